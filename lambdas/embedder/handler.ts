import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { parseEmbedderEnvironment } from '../../src/contract/environment.ts';
import { METRICS_NAMESPACE, type MetricName } from '../../src/contract/metrics.ts';
import { documentClient } from '../../src/runtime/clients.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { TitanEmbedder } from '../../src/runtime/memory/embedder.ts';
import { entryChangeOf } from '../../src/runtime/memory/entry-changes.ts';
import { EntryVectors } from '../../src/runtime/memory/entry-vectors.ts';
import { NightshiftError } from '../../src/errors.ts';
import { tracingFromEnvironment } from '../shared/tracing.ts';

const logger = new Logger({ serviceName: 'embedder' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'embedder' });
// A model call that hangs fails in 20 s (counted, retried) instead of timing the function out uncounted.
const bedrock = new BedrockRuntimeClient({ requestHandler: { requestTimeout: 20_000, connectionTimeout: 3_000 } });

/** Thrown for a change whose embedding failed: the stream retries from it, then gives it to the on-failure queue. */
export class EmbeddingFailedError extends NightshiftError {
  override readonly name = 'EmbeddingFailedError';
}

/** The entry a stream record's new image is, or nothing (a removal, or another item of the table). */
export function changeOfRecord(record: DynamoDBRecord) {
  const image = record.dynamodb?.NewImage;
  return image ? entryChangeOf(unmarshall(image as Record<string, AttributeValue>)) : undefined;
}

/**
 * Builds the embedder's handler over entry vectors: each record of the memory table's stream, in order, embedded
 * unless its text already has a vector. A failed one is reported (with every later one still tried), so Lambda
 * retries the batch from it; every failure is recorded for the watch, which pages when embeddings keep failing.
 */
export function createEmbedderHandler(vectors: () => EntryVectors | Promise<EntryVectors>) {
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  return async (event: DynamoDBStreamEvent, context: Context) => {
    try {
      return await processPartialResponse(
        event,
        async (record: DynamoDBRecord) => {
          const entryVectors = await vectors();
          let change: ReturnType<typeof changeOfRecord>;
          try {
            change = changeOfRecord(record);
          } catch (error) {
            // An image it cannot read is a failure like any other: counted for the watch, retried, then given up.
            await entryVectors.recordFailure(error).catch(() => undefined);
            throw new EmbeddingFailedError(`stream record ${record.dynamodb?.SequenceNumber ?? '?'} is unreadable: ${(error as Error).message}`);
          }
          if (!change) return;
          // Counted and recorded by `stamp`; thrown here so the stream retries it.
          if ((await entryVectors.stamp(change.namespace, change.key, change.item)) === 'failed') {
            throw new EmbeddingFailedError(`${change.namespace}/${change.key} not embedded: found by its words until a retry embeds it`);
          }
        },
        processor,
        { context, processInParallel: false, throwOnFullBatchFailure: false },
      );
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

let vectors: Promise<EntryVectors> | undefined;

async function vectorsFromEnvironment(): Promise<EntryVectors> {
  const env = parseEmbedderEnvironment();
  const dynamo = documentClient({}, await tracingFromEnvironment());
  return new EntryVectors({
    client: dynamo,
    tableName: env.memoryTable,
    embedder: new TitanEmbedder({ client: async () => bedrock, dimensions: env.embeddingDimensions }),
    metrics: { count: (name: MetricName, value = 1) => metrics.addMetric(name, MetricUnit.Count, value) },
    clock: systemClock,
    onFailure: (namespace, key, error) => logger.warn('entry not embedded: it is found by its words until a retry embeds it', { namespace, key, error: (error as Error).message }),
  });
}

/** The embedder: gives each memory entry whose text changed a vector, apart from the steward's ordered writes. */
export const handler = createEmbedderHandler(
  () =>
    (vectors ??= vectorsFromEnvironment().catch((error: unknown) => {
      vectors = undefined;
      throw error;
    })),
);
