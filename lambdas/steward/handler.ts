import { SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { describeIssues, jsonText } from '../../src/runtime/schema';
import { systemClock } from '../../src/runtime/clock';
import { MemorySteward, type StewardMessage } from '../../src/runtime/memory/steward';

const logger = new Logger({ serviceName: 'steward' });
const metrics = new Metrics({ namespace: 'Nightshift', serviceName: 'steward' });

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

/**
 * Builds the steward's handler over a steward. Powertools' FIFO processor keeps per-group order on partial
 * failure: a record that throws (a transient store error) fails the rest of its group in the batch, so the group is
 * retried in order, while other groups' records are applied.
 */
export function createStewardHandler(steward: () => MemorySteward) {
  const processor = new SqsFifoPartialProcessorAsync();
  return async (event: SQSEvent, context: Context) => {
    try {
      return await processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const result = await steward().handle(stewardMessage(record));
          if (result.outcome === 'rejected') logger.warn('update rejected', { messageId: record.messageId, ...result });
          return result;
        },
        processor,
        { context, skipGroupOnError: true, throwOnFullBatchFailure: false },
      );
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

let steward: MemorySteward | undefined;

const nonEmpty = () => z.string().check(z.minLength(1));
const writersSchema = z.pipe(jsonText, z.array(z.object({ principal: nonEmpty(), agentId: nonEmpty(), writes: z.array(z.string()) })));

function stewardFromEnvironment(): MemorySteward {
  const env = z.object({ MEMORY_TABLE: nonEmpty(), NIGHTSHIFT_WRITERS: writersSchema }).safeParse(process.env);
  if (!env.success) {
    throw new Error(`Steward environment is incomplete: ${describeIssues(env.error, '(environment)')}`);
  }
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  return new MemorySteward({
    client,
    tableName: env.data.MEMORY_TABLE,
    clock: systemClock,
    writers: new Map(env.data.NIGHTSHIFT_WRITERS.map((w) => [w.principal, { agentId: w.agentId, writes: w.writes }])),
    metrics: { count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value) },
  });
}

/** The memory steward: the only writer of shared memory. */
export const handler = createStewardHandler(() => (steward ??= stewardFromEnvironment()));
