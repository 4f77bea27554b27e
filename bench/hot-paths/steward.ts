import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSRecord } from 'aws-lambda';
import { createStewardHandler } from '../../lambdas/steward/handler.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { contextAttributes } from '../../src/runtime/memory/context-index.ts';
import { entryKey, padSequence, provenance, valueAttributes } from '../../src/runtime/memory/items.ts';
import { RECENT_IDS_KEPT, idAttribute } from '../../src/runtime/memory/recent-ids.ts';
import { type MemoryUpdate, messageGroupId } from '../../src/runtime/memory/update.ts';
import { wireSteward } from '../../src/runtime/memory/steward.ts';
import { LocalEmbedQueue } from '../../src/runtime/memory/entry-changes.ts';
import { EntryVectors } from '../../src/runtime/memory/entry-vectors.ts';
import { offlineEmbedder } from '../../src/runtime/memory/offline-embedder.ts';
import { tokenCounter } from '../../src/runtime/tokens.ts';
import { Wiring } from '../../src/runtime/wiring.ts';

const GROUPS = 20;
const BATCH = 10;
const context = { functionName: 'steward', awsRequestId: 'bench', getRemainingTimeInMillis: () => 30_000 } as Context;

export interface StewardFigures {
  readonly updates: number;
  readonly stewardSeconds: number;
  readonly rawSeconds: number;
  /** Steward throughput over raw conditional writes' throughput. */
  readonly ratioVsRaw: number;
  /** The same updates through a steward with embeddings on: its seconds, and its throughput over the steward's without. */
  readonly embeddingsOnSeconds: number;
  readonly embeddingsRatio: number;
  /** The embedder (the offline model here) working through what that steward wrote: entries, and entries a second. */
  readonly embedded: number;
  readonly embedderEntriesPerSecond: number;
}

/**
 * The steward's handler applying `perGroup` puts to each of 20 message groups, delivered as SQS FIFO batches of 10
 * with two batches in flight at once (as two concurrent invocations get them: SQS never hands one group to both),
 * against raw conditional PutItems of the very items the steward writes (built beforehand, with the idempotency ids
 * they carry, and the steward's own ordering condition) with the same 20 in flight, on the same table: the ratio is what the steward's parsing,
 * validation, ordering and indexing cost over the writes themselves. Then the same updates through a steward with
 * embeddings on, which hands each entry it wrote to the embedder and goes on (deployed, the table's stream carries it
 * to the embedder function); the embedder (the offline model) then works through them, timed on its own.
 */
export async function runStewardBench(client: DynamoDBDocumentClient, tableName: string, perGroup = 40, rounds = 4): Promise<StewardFigures> {
  const clock = new ManualClock(Date.UTC(2026, 10, 25));
  const wiring = new Wiring({ tables: { coordination: tableName, memory: tableName, counters: tableName }, clock, dynamo: client });
  const memorySteward = wireSteward(wiring);
  const handler = createStewardHandler(() => memorySteward);
  // Embeddings on: the steward hands each entry it wrote to the embedder (the table's stream, deployed) and goes on.
  const queue = new LocalEmbedQueue(new EntryVectors({ client, tableName, embedder: offlineEmbedder(), clock }));
  const embeddingSteward = wireSteward(wiring, { onWritten: (change) => queue.push(change) });
  const embedding = createStewardHandler(() => embeddingSteward);
  const countTokens = await tokenCounter();
  const total = GROUPS * perGroup;
  let stewardSeconds = 0;
  let rawSeconds = 0;
  let embeddingsOnSeconds = 0;
  let embedderSeconds = 0;
  let embedded = 0;
  // Round 0 warms both paths (connections, JIT, DynamoDB Local's JVM) and is not counted; later rounds alternate
  // which path goes first, so neither always meets a store the other just warmed.
  for (let round = 0; round <= rounds; round++) {
    const run = randomUUID().slice(0, 8);
    // Message i belongs to group i mod 20: batch b holds ten different groups, and batches 2k and 2k+1 are disjoint.
    const records = Array.from({ length: total }, (_, i) => record(run, i, clock.now()));
    const carried = new Map<string, string[]>();
    const rawItems = records.map((r) => rawItem(r, clock.now(), countTokens, carried));
    const timeSteward = async (steward = handler, batches = records) => {
      const start = performance.now();
      for (let b = 0; b < total / BATCH; b += 2) {
        const pair = [batches.slice(b * BATCH, (b + 1) * BATCH), batches.slice((b + 1) * BATCH, (b + 2) * BATCH)];
        const responses = await Promise.all(pair.map((batch) => steward({ Records: batch }, context)));
        const failed = responses.flatMap((r) => r.batchItemFailures);
        if (failed.length > 0) throw new Error(`the steward failed ${failed.length} record(s) in the benchmark`);
      }
      return (performance.now() - start) / 1000;
    };
    const timeRaw = async () => {
      const start = performance.now();
      for (let i = 0; i < total; i += 2 * BATCH) await Promise.all(rawItems.slice(i, i + 2 * BATCH).map((raw) => rawPut(client, tableName, raw)));
      return (performance.now() - start) / 1000;
    };
    let steward: number;
    let raw: number;
    if (round % 2 === 0) {
      steward = await timeSteward();
      raw = await timeRaw();
    } else {
      raw = await timeRaw();
      steward = await timeSteward();
    }
    // The same updates again (new ids, so each is applied), through the steward that hands entries to the embedder.
    const again = Array.from({ length: total }, (_, i) => record(`${run}-e`, i, clock.now()));
    const on = await timeSteward(embedding, again);
    const pending = queue.pending;
    const embedStart = performance.now();
    await queue.drain();
    const embedSeconds = (performance.now() - embedStart) / 1000;
    if (round === 0) continue;
    stewardSeconds += steward;
    rawSeconds += raw;
    embeddingsOnSeconds += on;
    embedderSeconds += embedSeconds;
    embedded += pending;
  }
  return {
    updates: total * rounds,
    stewardSeconds,
    rawSeconds,
    ratioVsRaw: rawSeconds / stewardSeconds,
    embeddingsOnSeconds,
    embeddingsRatio: stewardSeconds / embeddingsOnSeconds,
    embedded,
    embedderEntriesPerSecond: embedded / embedderSeconds,
  };
}

/**
 * The item the steward writes for a record's put, built beforehand: its token count, and the idempotency ids of the
 * key's earlier updates it carries (`carried`, per key, newest last).
 */
function rawItem(r: SQSRecord, appliedAt: number, countTokens: (text: string) => number, carried: Map<string, string[]>) {
  const update = JSON.parse(r.body) as MemoryUpdate & { op: 'put' };
  const sequence = padSequence(r.attributes.SequenceNumber!);
  const key = `raw-${update.key}`;
  const item = {
    ...entryKey(update.namespace, key),
    kind: 'object',
    ...valueAttributes(update.value),
    tags: [],
    pinned: false,
    ...contextAttributes(update.namespace, key, update.value, sequence, countTokens),
    ...provenance(update, sequence, appliedAt),
  };
  const ids = [...(carried.get(key) ?? []), idAttribute(update.idempotencyId)].slice(-RECENT_IDS_KEPT);
  carried.set(key, ids);
  return { item: { ...item, ...Object.fromEntries(ids.map((id) => [id, appliedAt])) }, sequence };
}

function record(run: string, i: number, sentAt: number): SQSRecord {
  const namespace = 'bench';
  const key = `${run}-g${i % GROUPS}`;
  const update = { idempotencyId: `${run}-${i}`, agentId: 'bench', runId: run, namespace, key, op: 'put', value: { i, note: `update ${i} of the benchmark` } };
  return {
    messageId: `${run}-${i}`,
    receiptHandle: `h-${i}`,
    body: JSON.stringify(update),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(sentAt),
      SenderId: 'AROAEXAMPLE:bench',
      ApproximateFirstReceiveTimestamp: String(sentAt),
      SequenceNumber: String(18_000_000_000_000_000_000n + BigInt(i)),
      MessageGroupId: messageGroupId(namespace, key),
      MessageDeduplicationId: `${run}-${i}`,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:bench.fifo',
    awsRegion: 'us-east-1',
  };
}

/** One raw conditional write: the steward's item and ordering condition, nothing else. */
function rawPut(client: DynamoDBDocumentClient, tableName: string, raw: { item: Record<string, unknown>; sequence: string }) {
  return client.send(
    new PutCommand({
      TableName: tableName,
      Item: raw.item,
      ConditionExpression: 'attribute_not_exists(lastSequence) OR lastSequence < :seq',
      ExpressionAttributeValues: { ':seq': raw.sequence },
    }),
  );
}
