import { marshall } from '@aws-sdk/util-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createEmbedderHandler } from '../../../lambdas/embedder/handler.ts';
import { KEYS } from '../../../src/contract/tables.ts';
import { type EntryChange, LocalEmbedQueue, entryChangeOf } from '../../../src/runtime/memory/entry-changes.ts';
import { type Embedder, HashingEmbedder, embeddingText, vectorOf } from '../../../src/runtime/memory/embedder.ts';
import { EntryVectors, embeddingFailures } from '../../../src/runtime/memory/entry-vectors.ts';
import { MemorySteward } from '../../../src/runtime/memory/steward.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../../support/memory.ts';

const dynamo = await dynamoForTest('entry-changes');
const context = { functionName: 'embedder', awsRequestId: 'test', getRemainingTimeInMillis: () => 60_000 } as Context;

/** An embedder that fails for texts `failing` says, and counts what it was asked. */
function flaky(failing: (text: string) => boolean): Embedder & { asked: string[] } {
  const inner = new HashingEmbedder(16);
  const asked: string[] = [];
  return {
    model: inner.model,
    asked,
    embed: async (texts) => {
      asked.push(texts[0]!);
      if (texts.some(failing)) throw new Error('ThrottlingException: slow down');
      return inner.embed(texts);
    },
  };
}

/** The entries the steward writes, as the stream would carry them (or as the local embedder gets them). */
async function written(steward: MemorySteward, changes: EntryChange[], namespace: string, values: Record<string, string>) {
  for (const [key, value] of Object.entries(values)) expect((await steward.handle(delivered(update({ namespace, key, value })))).outcome).toBe('applied');
  return changes;
}

describe('embedding apart from the steward', () => {
  it('takes only entries from the table\'s images, whatever else the table holds or an image claims', () => {
    expect(entryChangeOf({ pk: 'mem#notes', sk: 'k', ctxText: 'x' })).toEqual({ namespace: 'notes', key: 'k', item: { pk: 'mem#notes', sk: 'k', ctxText: 'x' } });
    for (const image of [{ pk: 'vec#notes', sk: 'k' }, { pk: 'receipts#writer', sk: 'r' }, { pk: 'mem#', sk: 'k' }, { pk: 'mem#notes', sk: '' }, { pk: 7, sk: 'k' }, { sk: 'k' }, undefined]) {
      expect(entryChangeOf(image as Record<string, unknown> | undefined), JSON.stringify(image)).toBeUndefined();
    }
  });

  it('never makes the steward wait on the model: updates apply while every embedding hangs', async () => {
    const m = memory(dynamo);
    const hanging: Embedder = { model: 'hanging', embed: () => new Promise(() => undefined) };
    const queue = new LocalEmbedQueue(new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder: hanging }));
    const steward = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, onWritten: (change) => queue.push(change) });
    const namespace = freshNamespace();
    for (let i = 0; i < 5; i++) expect((await steward.handle(delivered(update({ namespace, key: `k${i}`, value: `entry ${i}` })))).outcome).toBe('applied');
    expect(queue.pending).toBe(5);
    expect((await m.reader.get(namespace, 'k4'))?.value).toBe('entry 4');
  });

  it('retries a failed embedding in order on the next drains, then gives it up; the later changes wait their turn and are embedded', async () => {
    const m = memory(dynamo);
    const changes: EntryChange[] = [];
    const steward = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, onWritten: (change) => changes.push(change) });
    const namespace = freshNamespace();
    await written(steward, changes, namespace, { bad: 'poison text', good: 'a fine text' });
    const embedder = flaky((text) => text.includes('poison'));
    const queue = new LocalEmbedQueue(new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder, clock: m.clock }), 3);
    for (const change of changes) queue.push(change);
    await queue.drain();
    await queue.drain();
    expect(embedder.asked.filter((t) => t.includes('fine'))).toHaveLength(0); // behind the failing one
    await queue.drain(); // the third failure gives it up, then the next is embedded
    expect(queue.given).toBe(1);
    expect(queue.pending).toBe(0);
    const vector = async (key: string) => (await m.client.send(new GetCommand({ TableName: dynamo.names.memory, Key: KEYS.memory.vector(namespace, key) }))).Item;
    expect(await vector('bad')).toBeUndefined();
    expect(await vector('good')).toBeDefined();
  });

  it('as the stream\'s embedder function: embeds entries, skips everything else, reports the record that failed so Lambda retries from it', async () => {
    const m = memory(dynamo);
    const changes: EntryChange[] = [];
    const steward = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, onWritten: (change) => changes.push(change) });
    const namespace = freshNamespace();
    await written(steward, changes, namespace, { first: 'first entry', poison: 'poison entry', last: 'last entry' });
    const record = (image: Record<string, unknown> | undefined, i: number, eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'INSERT'): DynamoDBRecord => ({
      eventName,
      eventSource: 'aws:dynamodb',
      dynamodb: { SequenceNumber: String(100 + i), ...(image ? { NewImage: marshall(image, { removeUndefinedValues: true, convertClassInstanceToMap: true }) as never } : {}) },
    });
    const records = [
      record(changes[0]!.item, 0),
      record({ pk: `vec#${namespace}`, sk: 'first', of: 'x' }, 1, 'MODIFY'),
      record(changes[1]!.item, 2, 'MODIFY'),
      record(undefined, 3, 'REMOVE'),
      record(changes[2]!.item, 4),
    ];
    const embedder = flaky((text) => text.includes('poison'));
    const handler = createEmbedderHandler(() => new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder, clock: m.clock }));
    expect(await handler({ Records: records }, context)).toEqual({ batchItemFailures: [{ itemIdentifier: '102' }] });
    expect(embedder.asked).toHaveLength(3);
    // Retried from the failed record on, as Lambda does: what was embedded is not embedded again.
    expect(await handler({ Records: records.slice(2) }, context)).toEqual({ batchItemFailures: [{ itemIdentifier: '102' }] });
    expect(embedder.asked.filter((t) => t.includes('last'))).toHaveLength(1);
  });

  it('embeds an appended entry as it reads after the append (its whole text), not as the write left it', async () => {
    const m = memory(dynamo);
    const changes: EntryChange[] = [];
    const steward = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, onWritten: (change) => changes.push(change) });
    const namespace = freshNamespace();
    for (const line of ['first line', 'second line about zebras']) {
      expect((await steward.handle(delivered(update({ namespace, key: 'log', op: 'append', value: [line] })))).outcome).toBe('applied');
    }
    const vectors = new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder: new HashingEmbedder(16), clock: m.clock });
    const queue = new LocalEmbedQueue(vectors);
    for (const change of changes) queue.push(change);
    await queue.drainAll();
    const { Item: entry } = await m.client.send(new GetCommand({ TableName: dynamo.names.memory, Key: KEYS.memory.entry(namespace, 'log') }));
    const { Item: vector } = await m.client.send(new GetCommand({ TableName: dynamo.names.memory, Key: KEYS.memory.vector(namespace, 'log') }));
    expect(entry!.ctxText).toContain('zebras');
    expect(vector!.of).toBe(vectorOf(vectors.model, embeddingText('log', [], entry!.ctxText as string)));
  });

  it('never lets a retried older change push back the vector a newer one wrote', async () => {
    const m = memory(dynamo);
    const changes: EntryChange[] = [];
    const steward = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, onWritten: (change) => changes.push(change) });
    const namespace = freshNamespace();
    await written(steward, changes, namespace, { k: 'the old text' });
    await written(steward, changes, namespace, { k: 'the new text' });
    const vectors = new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder: new HashingEmbedder(16), clock: m.clock });
    expect(await vectors.stamp(namespace, 'k', changes[1]!.item)).toBe('embedded');
    // The stream retries from an older record that failed: it finds a later vector and leaves it.
    expect(await vectors.stamp(namespace, 'k', changes[0]!.item)).toBe('unchanged');
    const { Item: vector } = await m.client.send(new GetCommand({ TableName: dynamo.names.memory, Key: KEYS.memory.vector(namespace, 'k') }));
    expect(vector!.of).toBe(vectorOf(vectors.model, embeddingText('k', [], changes[1]!.item.ctxText as string)));
  });

  it('counts a stream record it cannot even read as a failed embedding, for the watch', async () => {
    const m = memory(dynamo);
    const before = (await embeddingFailures(m.client, dynamo.names.memory, m.clock.now())).count;
    const handler = createEmbedderHandler(() => new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder: new HashingEmbedder(16), clock: m.clock }));
    const unreadable: DynamoDBRecord = { eventName: 'INSERT', dynamodb: { SequenceNumber: '7', NewImage: { pk: { S: 'mem#notes' }, sk: { S: 'k' }, odd: { Z: 'no such type' } } as never } };
    expect(await handler({ Records: [unreadable] }, context)).toEqual({ batchItemFailures: [{ itemIdentifier: '7' }] });
    expect((await embeddingFailures(m.client, dynamo.names.memory, m.clock.now())).count).toBe(before + 1);
  });
});
