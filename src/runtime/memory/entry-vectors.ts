import { type DynamoDBDocumentClient, GetCommand, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { KEYS, vectorPartitionKey } from '../../contract/tables.ts';
import { conditionally } from '../conditional.ts';
import { countInBucket, minuteOf, staleBuckets, windowOf } from '../breaker/window-buckets.ts';
import type { Clock } from '../clock.ts';
import type { MetricsSink } from '../metrics.ts';
import { type Embedder, decodeVector, embeddingText, encodeVector, titleText, vectorOf } from './embedder.ts';

/**
 * Where entry vectors live: one item per entry in its namespace's vector partition (`pk = vec#<namespace>`,
 * `sk = <key>`), beside the entries, holding the embedding (a byte a dimension) and what it was made from (`of`: the
 * model and a hash of the text). Retrieval reads a namespace's vectors with one Query (1 MB holds ~1,500 of 512
 * dimensions) and uses a vector only when its `of` matches the entry as the context index has it now, so a vector
 * of an older text, of another model, or of an entry since deleted is never used.
 */

/** An entry's vectors: of its whole text, and of its title (key and tags) when it has one. */
export interface StoredVectors {
  readonly of: string;
  readonly vector: Float32Array;
  readonly title?: Float32Array;
}

export type StampOutcome = 'embedded' | 'unchanged' | 'not-indexed' | 'failed';

/** The window the watch counts failed embeddings over. */
export const EMBEDDING_FAILURE_WINDOW_MINUTES = 60;

export interface EntryVectorsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly embedder: Embedder;
  readonly metrics?: MetricsSink;
  /**
   * Dates each failed embedding, counted on `KEYS.memory.embeddingFailures` for the watch to page on.
   * @default - failures are told and counted as a metric, not recorded
   */
  readonly clock?: Clock;
  /** Told of each embedding that failed (the steward logs it). @default - nothing */
  readonly onFailure?: (namespace: string, key: string, error: unknown) => void;
}

export class EntryVectors {
  constructor(private readonly options: EntryVectorsOptions) {}

  get model(): string {
    return this.options.embedder.model;
  }

  /**
   * Embeds a live entry (as the steward just wrote or found it) unless its vector is already of this text. A
   * failure is counted (`EmbeddingsFailed`) and told, never thrown: the entry stays, found by its words alone.
   */
  async stamp(namespace: string, key: string, item: Record<string, unknown>): Promise<StampOutcome> {
    if (item.kind === 'deleted' || typeof item.ctxText !== 'string') return 'not-indexed';
    const { client, tableName, embedder, metrics } = this.options;
    try {
      const tags = item.tags ?? [];
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new TypeError(`${namespace}/${key}: tags are not a list of strings`);
      const text = embeddingText(key, tags, item.ctxText);
      const of = vectorOf(embedder.model, text);
      const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: KEYS.memory.vector(namespace, key), ProjectionExpression: '#of', ExpressionAttributeNames: { '#of': 'of' } }));
      if (Item?.of === of) return 'unchanged';
      const title = titleText(key, tags);
      const { vectors, tokens } = await embedder.embed(title ? [text, title] : [text]);
      // Never over a vector of a later text: a retried older change (the stream retries from a failed record on)
      // must not push back what a newer one embedded.
      const written = await conditionally(
        client.send(
          new PutCommand({
            TableName: tableName,
            Item: { ...KEYS.memory.vector(namespace, key), of, vector: encodeVector(vectors[0]!), ...(vectors[1] ? { title: encodeVector(vectors[1]) } : {}), sequence: item.lastSequence },
            ...(typeof item.lastSequence === 'string' ? { ConditionExpression: 'attribute_not_exists(#seq) OR #seq <= :seq', ExpressionAttributeNames: { '#seq': 'sequence' }, ExpressionAttributeValues: { ':seq': item.lastSequence } } : {}),
          }),
        ),
      );
      if (!written.ok) return 'unchanged';
      metrics?.count('EntriesEmbedded');
      metrics?.count('EmbeddingTokens', tokens);
      return 'embedded';
    } catch (error) {
      metrics?.count('EmbeddingsFailed');
      this.options.onFailure?.(namespace, key, error);
      // Kept for the watch, which pages when embeddings keep failing; recording it must not fail the update either.
      await this.recordFailure(error).catch(() => undefined);
      return 'failed';
    }
  }

  /** Buckets the last failure's record showed as stale: removed by the next. */
  private staleFailureBuckets: string[] = [];

  /**
   * Counts a failed embedding in this minute's bucket of `KEYS.memory.embeddingFailures`, with the error: `stamp`'s
   * own failures, and the embedder function's with a change it could not even read.
   */
  async recordFailure(error: unknown): Promise<void> {
    const { client, tableName, clock } = this.options;
    if (!clock) return;
    const now = clock.now();
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const item = await countInBucket(
      client,
      { tableName, key: KEYS.memory.embeddingFailures },
      { epoch: 0, now, stale: this.staleFailureBuckets, set: { lastError: message.slice(0, 300), lastFailedAt: now } },
    );
    this.staleFailureBuckets = staleBuckets(item, 0, minuteOf(now), EMBEDDING_FAILURE_WINDOW_MINUTES);
  }

  /** A namespace's vectors by key, and the Query calls it took (one per MB). */
  async read(namespace: string): Promise<{ vectors: Map<string, StoredVectors>; calls: number }> {
    const vectors = new Map<string, StoredVectors>();
    let calls = 0;
    const pages = paginateQuery(
      { client: this.options.client },
      {
        TableName: this.options.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': vectorPartitionKey(namespace) },
        ProjectionExpression: 'sk, #of, vector, title',
        ExpressionAttributeNames: { '#of': 'of' },
      },
    );
    for await (const page of pages) {
      calls++;
      for (const item of page.Items ?? []) {
        if (typeof item.of === 'string' && item.vector instanceof Uint8Array) {
          vectors.set(item.sk as string, { of: item.of, vector: decodeVector(item.vector), ...(item.title instanceof Uint8Array ? { title: decodeVector(item.title) } : {}) });
        }
      }
    }
    return { vectors, calls };
  }

  /** The embedding of a task's query, and the tokens it cost. */
  async embedQuery(query: string): Promise<{ vector: Float32Array; tokens: number }> {
    const { vectors, tokens } = await this.options.embedder.embed([query]);
    return { vector: vectors[0]!, tokens };
  }

  /** What an entry's vector must be `of` to be used: the entry as the context index has it. */
  expectedOf(key: string, tags: readonly string[], text: string): string {
    return vectorOf(this.options.embedder.model, embeddingText(key, tags, text));
  }
}

/** Failed embeddings over the last `windowMinutes` before `now`, and the last error (the watch's question). */
export async function embeddingFailures(
  client: DynamoDBDocumentClient,
  tableName: string,
  now: number,
  windowMinutes = EMBEDDING_FAILURE_WINDOW_MINUTES,
): Promise<{ count: number; lastError?: string }> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: KEYS.memory.embeddingFailures, ConsistentRead: true }));
  if (!Item) return { count: 0 };
  const count = windowOf(Item, 0, minuteOf(now), windowMinutes);
  return { count, ...(typeof Item.lastError === 'string' ? { lastError: Item.lastError } : {}) };
}
