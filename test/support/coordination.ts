import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ManualClock } from '../../src/runtime/clock.ts';
import { Heartbeats } from '../../src/runtime/heartbeats.ts';
import { TaskLocks } from '../../src/runtime/locks.ts';
import { CountingMetrics } from '../../src/runtime/metrics.ts';
import type { TestDynamo } from './dynamo.ts';

export const MINUTE = 60_000;

/** Locks and heartbeats on the test file's coordination table, on a manual clock. */
export function coordination(dynamo: TestDynamo, start = Date.UTC(2026, 10, 25, 3, 0)) {
  const client = DynamoDBDocumentClient.from(dynamo.client);
  const clock = new ManualClock(start);
  const metrics = new CountingMetrics();
  const tableName = dynamo.names.coordination;
  return {
    client,
    clock,
    metrics,
    tableName,
    locks: new TaskLocks({ client, tableName, clock, metrics }),
    heartbeats: new Heartbeats({ client, tableName, clock }),
  };
}
