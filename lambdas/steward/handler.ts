import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseStewardEnvironment } from '../../src/contract/environment.ts';
import { METRICS_NAMESPACE, type MetricName } from '../../src/contract/metrics.ts';
import { documentClient } from '../../src/runtime/clients.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { type MemorySteward, type StewardMessage, wireSteward } from '../../src/runtime/memory/steward.ts';
import { tracingFromEnvironment } from '../shared/tracing.ts';
import { NightshiftError } from '../../src/errors.ts';

const logger = new Logger({ serviceName: 'steward' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'steward' });

/** The steward's view of an SQS FIFO record. */
export function stewardMessage(record: SQSRecord): StewardMessage {
  const original = record.messageAttributes?.OriginalSequenceNumber?.stringValue;
  const originalSender = record.messageAttributes?.OriginalSenderId?.stringValue;
  return {
    senderId: record.attributes.SenderId,
    ...(originalSender === undefined ? {} : { originalSenderId: originalSender }),
    messageId: record.messageId,
    body: record.body,
    messageGroupId: record.attributes.MessageGroupId ?? '',
    sequenceNumber: record.attributes.SequenceNumber ?? '',
    sentAt: Number(record.attributes.SentTimestamp),
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
    ...(original === undefined ? {} : { originalSequenceNumber: original }),
  };
}

/** Thrown for a record whose group had an earlier record fail in the same batch: it must wait its turn. */
export class GroupBlockedError extends NightshiftError {
  override readonly name = 'GroupBlockedError';
}

/**
 * Builds the steward's handler over a steward. Records of different message groups are applied concurrently and
 * records of one group one after another, in the batch's order, which is the group's order. A record that throws (a
 * transient store error) fails the rest of its group in the batch, so the group is retried in order, while other
 * groups' records are applied. (Powertools' FIFO processor keeps the same guarantee but applies every record in
 * turn; its `BatchProcessor` runs them all at once, and this handler orders them per group.)
 */
export function createStewardHandler(steward: () => MemorySteward | Promise<MemorySteward>) {
  const processor = new BatchProcessor(EventType.SQS);
  return async (event: SQSEvent, context: Context) => {
    const turn = groupTurns(event.Records);
    try {
      return await processPartialResponse(
        event,
        async (record: SQSRecord) =>
          turn(record, async () => {
            const result = await (await steward()).handle(stewardMessage(record));
            // The reason only: a detail can quote the body, and memory content never goes into a log.
            if (result.outcome === 'rejected') logger.warn('update rejected', { messageId: record.messageId, messageGroupId: record.attributes.MessageGroupId, reason: result.reason });
            return result;
          }),
        processor,
        { context, throwOnFullBatchFailure: false },
      );
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/**
 * Orders a batch's records within each message group: `turn(record, work)` runs `work` once the record before it in
 * its group has settled, and refuses it if that one failed.
 */
function groupTurns(records: readonly SQSRecord[]) {
  const settled = new Map<string, Promise<boolean>>();
  const previous = new Map<string, string>();
  const last = new Map<string, string>();
  const finish = new Map<string, (ok: boolean) => void>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? '';
    const before = last.get(group);
    if (before !== undefined) previous.set(record.messageId, before);
    last.set(group, record.messageId);
    settled.set(record.messageId, new Promise((resolve) => finish.set(record.messageId, resolve)));
  }
  return async <T>(record: SQSRecord, work: () => Promise<T>): Promise<T> => {
    const done = finish.get(record.messageId)!;
    try {
      const before = previous.get(record.messageId);
      if (before !== undefined && !(await settled.get(before)!)) {
        throw new GroupBlockedError(`an earlier message of group ${record.attributes.MessageGroupId} failed in this batch`);
      }
      const result = await work();
      done(true);
      return result;
    } catch (error) {
      done(false);
      throw error;
    }
  };
}

let steward: Promise<MemorySteward> | undefined;

async function stewardFromEnvironment(): Promise<MemorySteward> {
  const env = parseStewardEnvironment();
  // X-Ray subsegments for the steward's DynamoDB calls when the stack turned tracing on.
  const dynamo = documentClient({}, await tracingFromEnvironment());
  const sink = { count: (name: MetricName, value = 1) => metrics.addMetric(name, MetricUnit.Count, value) };
  return wireSteward(
    { dynamo, tables: { memory: env.memoryTable }, clock: systemClock, metrics: sink },
    {
      writers: new Map(env.writers.map((w) => [w.principal, { agentId: w.agentId, writes: w.writes, pins: w.pins, ...(w.updatesPerHour === undefined ? {} : { updatesPerHour: w.updatesPerHour }), ...(w.receipts ? { receipts: true } : {}) }])),
      redriver: env.redriver,
    },
  );
}

/** The memory steward: the only writer of shared memory. */
export const handler = createStewardHandler(
  () =>
    (steward ??= stewardFromEnvironment().catch((error: unknown) => {
      steward = undefined; // the next invocation tries again
      throw error;
    })),
);
