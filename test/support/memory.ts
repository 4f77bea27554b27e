import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ManualClock } from '../../src/runtime/clock.ts';
import { CountingMetrics } from '../../src/runtime/metrics.ts';
import { MemoryReader } from '../../src/runtime/memory/reader.ts';
import { MemorySteward, type StewardMessage } from '../../src/runtime/memory/steward.ts';
import { type MemoryUpdate, messageGroupId } from '../../src/runtime/memory/update.ts';
import type { TestDynamo } from './dynamo.ts';

/** A steward and reader on the test file's memory table. */
export function memory(dynamo: TestDynamo) {
  const client = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 3, 0));
  const metrics = new CountingMetrics();
  const tableName = dynamo.names.memory;
  return {
    client,
    clock,
    metrics,
    steward: new MemorySteward({ client, tableName, clock, metrics, redriver: 'AROAREDRIVE' }),
    reader: new MemoryReader({ client, tableName }),
  };
}

/** A namespace no other test uses. */
export const freshNamespace = () => `ns-${randomUUID().slice(0, 8)}`;

let nextSequence = 18_000_000_000_000_000_000n;

/** What SQS FIFO would deliver for an update sent now: a fresh, higher sequence number, in the key's group. */
export function delivered(update: MemoryUpdate | string, group?: string): StewardMessage {
  nextSequence += 1_000n;
  const body = typeof update === 'string' ? update : JSON.stringify(update);
  return {
    messageId: randomUUID(),
    body,
    messageGroupId: group ?? (typeof update === 'string' ? 'g' : messageGroupId(update.namespace, update.key)),
    sequenceNumber: nextSequence.toString(),
    sentAt: Date.UTC(2026, 10, 25, 3, 0),
    receiveCount: 1,
  };
}

let nextId = 0;

export function update(fields: Partial<MemoryUpdate> & Pick<MemoryUpdate, 'namespace' | 'key'> & Record<string, unknown>) {
  const op = fields.op ?? 'put';
  return {
    idempotencyId: `u-${++nextId}`,
    agentId: 'writer',
    runId: 'run-1',
    op,
    ...(op === 'delete' ? {} : { value: null }),
    ...fields,
  } as MemoryUpdate;
}
