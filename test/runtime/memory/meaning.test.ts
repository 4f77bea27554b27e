import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Embedder, HashingEmbedder, decodeVector, dot, encodeVector, unit } from '../../../src/runtime/memory/embedder.ts';
import { EntryVectors } from '../../../src/runtime/memory/entry-vectors.ts';
import { ContextRetriever } from '../../../src/runtime/memory/retrieval.ts';
import { MemorySteward } from '../../../src/runtime/memory/steward.ts';
import { LocalEmbedQueue } from '../../../src/runtime/memory/entry-changes.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../../support/memory.ts';

const dynamo = await dynamoForTest('meaning');

/**
 * An embedder that knows a few concepts: each word of a concept adds to that concept's dimension, so `bill` and
 * `invoice` point the same way though they share no letters. What a real model does for meaning, small enough to
 * reason about; it counts its calls and can be told to fail.
 */
function conceptEmbedder(concepts: readonly (readonly string[])[], behaviour: { fail?: (text: string) => boolean } = {}) {
  const calls: string[] = [];
  const embedder: Embedder = {
    model: 'concepts/test',
    async embed(texts) {
      calls.push(texts[0]!); // one per call: an entry's text and title go in one call
      texts.forEach((t) => texts.length > 1 && t === texts[1] && expect(t.length).toBeLessThan(texts[0]!.length));
      const failing = texts.find((t) => behaviour.fail?.(t));
      if (failing !== undefined) throw new Error(`model unavailable for '${failing.slice(0, 20)}'`);
      return {
        vectors: texts.map((text) => {
          const v = new Float32Array(concepts.length + 1);
          v[concepts.length] = 0.05; // every text a little alike, as real embeddings are
          for (const word of text.toLowerCase().split(/[^a-z0-9]+/)) concepts.forEach((c, i) => c.includes(word) && (v[i]! += 1));
          return unit(v);
        }),
        tokens: texts.length * 3,
      };
    },
  };
  return { embedder, calls };
}

const CONCEPTS = [
  ['invoice', 'bill', 'billing'],
  ['refund', 'reimbursement', 'repayment'],
  ['kubernetes', 'cluster', 'orchestration'],
  ['podcast', 'episode', 'show'],
];

function parts(embedder: Embedder) {
  const m = memory(dynamo);
  const vectors = new EntryVectors({ client: m.client, tableName: dynamo.names.memory, embedder, metrics: m.metrics });
  // The embedder works apart from the steward: each change is embedded after the steward's turn, as the stream's consumer would.
  const queue = new LocalEmbedQueue(vectors);
  const real = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, metrics: m.metrics, onWritten: (change) => queue.push(change) });
  const steward = {
    handle: async (message: Parameters<MemorySteward['handle']>[0]) => {
      const result = await real.handle(message);
      await queue.drain();
      return result;
    },
  };
  return { ...m, steward, vectors, retriever: new ContextRetriever({ client: m.client, tableName: dynamo.names.memory, vectors }) };
}

describe('retrieval by meaning', () => {
  it('finds an entry worded differently from the task by its meaning, and says which half found what', async () => {
    const ns = freshNamespace();
    const { steward, retriever } = parts(conceptEmbedder(CONCEPTS).embedder);
    await steward.handle(delivered(update({ namespace: ns, key: 'refund-policy', value: 'Invoice refunds go back to the card within five days.' })));
    await steward.handle(delivered(update({ namespace: ns, key: 'podcast-notes', value: 'Episode nine needs a guest and an intro.' })));
    await steward.handle(delivered(update({ namespace: ns, key: 'house-rule', value: 'Plain English.', pinned: true })));

    const context = await retriever.retrieve({ namespaces: [ns], query: 'answer a question about bill reimbursement', budgetTokens: 1_000 });
    expect(context.entries.map((e) => [e.key, e.foundBy])).toEqual([
      ['house-rule', 'pinned'],
      ['refund-policy', 'meaning'],
      ['podcast-notes', 'meaning'],
    ]);
    expect(context.embedding).toMatchObject({ model: 'concepts/test', entriesWithVectors: 2, tokens: 3 });
    // The title (key and tags) is embedded beside the whole text: an entry whose text never says what it is about
    // is found by what its key says.
    await steward.handle(delivered(update({ namespace: ns, key: 'kubernetes-upgrade', value: 'Runs on Sunday nights after the freeze.' })));
    const byTitle = await retriever.retrieve({ namespaces: [ns], query: 'when does the cluster change', budgetTokens: 1_000 });
    expect(byTitle.entries.filter((e) => !e.pinned)[0]).toMatchObject({ key: 'kubernetes-upgrade', foundBy: 'meaning' });

    const worded = await retriever.retrieve({ namespaces: [ns], query: 'invoice refunds', budgetTokens: 1_000 });
    expect(worded.entries.find((e) => e.key === 'refund-policy')?.foundBy).toBe('both');
    expect(worded.entries.filter((e) => !e.pinned)[0]?.key).toBe('refund-policy');
  });

  it('applies the update when embedding fails, and the entry is found by its words', async () => {
    const ns = freshNamespace();
    const { embedder, calls } = conceptEmbedder(CONCEPTS, { fail: (text) => text.includes('kubernetes') });
    const { steward, retriever, reader, metrics } = parts(embedder);
    const result = await steward.handle(delivered(update({ namespace: ns, key: 'cluster-upgrade', value: 'The kubernetes upgrade runs on Sunday nights.' })));

    expect(result.outcome).toBe('applied');
    expect((await reader.get(ns, 'cluster-upgrade'))?.value).toBe('The kubernetes upgrade runs on Sunday nights.');
    expect(metrics.get('EmbeddingsFailed')).toBe(1);
    expect(metrics.get('UpdatesApplied')).toBe(1);
    expect(calls).toHaveLength(1);

    const context = await retriever.retrieve({ namespaces: [ns], query: 'when is the upgrade', budgetTokens: 1_000 });
    expect(context.entries.map((e) => [e.key, e.foundBy])).toEqual([['cluster-upgrade', 'words']]);
    expect(context.embedding?.entriesWithVectors).toBe(0);
  });

  it('ranks by words alone when the query cannot be embedded, and says why', async () => {
    const ns = freshNamespace();
    const { embedder } = conceptEmbedder(CONCEPTS, { fail: (text) => text.startsWith('why') });
    const { steward, retriever } = parts(embedder);
    await steward.handle(delivered(update({ namespace: ns, key: 'refund-policy', value: 'Refunds within five days.' })));
    const context = await retriever.retrieve({ namespaces: [ns], query: 'why are refunds slow', budgetTokens: 1_000 });
    expect(context.entries.map((e) => [e.key, e.foundBy])).toEqual([['refund-policy', 'words']]);
    expect(context.embedding?.error).toMatch(/model unavailable/);
  });

  it('embeds an entry once per text: not again on a redelivery, again when its text changes, never a stale vector', async () => {
    const ns = freshNamespace();
    let failing = false;
    const { embedder, calls } = conceptEmbedder(CONCEPTS, { fail: () => failing });
    const { steward, retriever } = parts(embedder);
    const first = delivered(update({ namespace: ns, key: 'notes', value: 'Invoice refunds take five days.' }));
    await steward.handle(first);
    await steward.handle(first); // SQS delivers it again
    expect(calls).toHaveLength(1);

    await steward.handle(delivered(update({ namespace: ns, key: 'notes', value: 'Invoice refunds take a week now.' })));
    expect(calls).toHaveLength(2);
    failing = true;
    await steward.handle(delivered(update({ namespace: ns, key: 'notes', value: 'Kubernetes cluster notes.' })));
    failing = false;
    // The vector on file is of an older text: it must not rank the entry by what it used to say.
    const context = await retriever.retrieve({ namespaces: [ns], query: 'bill reimbursement', budgetTokens: 1_000 });
    expect(context.embedding?.entriesWithVectors).toBe(0);
    expect(context.entries).toEqual([]);
  });

  it('keeps pinned entries first and the budget whatever the meaning half ranks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('invoice', 'bill', 'refund', 'podcast', 'episode', 'kubernetes', 'garden', 'weather'), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 200 }), async (words, budget) => {
        const ns = freshNamespace();
        const { steward, retriever } = parts(new HashingEmbedder(64));
        await steward.handle(delivered(update({ namespace: ns, key: 'rule', value: 'Quote sources.', pinned: true })));
        for (const [i, word] of ['invoice refund', 'podcast episode', 'kubernetes cluster', 'garden weather'].entries()) {
          await steward.handle(delivered(update({ namespace: ns, key: `e${i}`, value: `${word} notes for the team` })));
        }
        const context = await retriever.retrieve({ namespaces: [ns], query: words.join(' '), budgetTokens: budget });
        expect(context.tokensLoaded).toBeLessThanOrEqual(budget);
        const pinnedAt = context.entries.findIndex((e) => e.pinned);
        if (pinnedAt !== -1) expect(pinnedAt).toBe(0);
        for (const e of context.entries) expect(e.pinned ? e.foundBy === 'pinned' : e.foundBy !== 'pinned').toBe(true);
      }),
      { numRuns: 15 },
    );
  });
});

describe('vector encoding', () => {
  it('keeps a unit vector within 1% of its cosine in a byte a dimension', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 8, maxLength: 1024 }), (values) => {
        const v = unit(Float32Array.from(values));
        if (dot(v, v) === 0) return;
        const round = decodeVector(encodeVector(v));
        expect(round).toHaveLength(v.length);
        expect(dot(v, round)).toBeGreaterThan(0.99);
      }),
    );
  });

  it('hashing embedder: deterministic, unit length, alike for shared words', async () => {
    const e = new HashingEmbedder(128);
    const [a, b, c, again] = (await e.embed(['invoice refunds', 'refunds for an invoice', 'podcast guest', 'invoice refunds'])).vectors;
    expect(Array.from(again!)).toEqual(Array.from(a!));
    expect(dot(a!, a!)).toBeCloseTo(1, 5);
    expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!));
  });
});

describe('Titan embedder', () => {
  // Bedrock cannot be reached from here: a client double that answers as InvokeModel does (its documented body).
  const client = (answer: (body: { inputText: string; dimensions: number; normalize: boolean }) => unknown) => {
    const sent: { modelId?: string; body: { inputText: string; dimensions: number; normalize: boolean } }[] = [];
    return {
      sent,
      client: {
        async send(command: { input: { modelId?: string; body?: string | Uint8Array } }) {
          const body = JSON.parse(String(command.input.body)) as { inputText: string; dimensions: number; normalize: boolean };
          sent.push({ modelId: command.input.modelId!, body });
          return { body: new TextEncoder().encode(JSON.stringify(answer(body))) };
        },
      },
    };
  };

  it('asks for exactly Titan V2 at the configured dimensions, one call a text, and sums the tokens Bedrock reports', async () => {
    const { TitanEmbedder } = await import('../../../src/runtime/memory/embedder.ts');
    const fake = client((body) => ({ embedding: Array.from({ length: body.dimensions }, (_, i) => (i === body.inputText.length % body.dimensions ? 3 : 0)), inputTextTokenCount: body.inputText.length }));
    const embedder = new TitanEmbedder({ client: async () => fake.client as never, dimensions: 256 });
    const { vectors, tokens } = await embedder.embed(['one', 'three', 'fifteen chars..']);
    expect(fake.sent.map((s) => s.modelId)).toEqual(Array(3).fill('amazon.titan-embed-text-v2:0'));
    expect(fake.sent.map((s) => s.body)).toEqual(['one', 'three', 'fifteen chars..'].map((inputText) => ({ inputText, dimensions: 256, normalize: true })));
    expect(tokens).toBe(3 + 5 + 15);
    expect(vectors.map((v) => [v.length, v[[3, 5, 15][vectors.indexOf(v)]!]])).toEqual([[256, 1], [256, 1], [256, 1]]);
    expect(embedder.model).toBe('amazon.titan-embed-text-v2:0/256');
  });

  it('fails with an EmbeddingError when Bedrock answers without an embedding', async () => {
    const { TitanEmbedder, EmbeddingError } = await import('../../../src/runtime/memory/embedder.ts');
    const embedder = new TitanEmbedder({ client: async () => client(() => ({ message: 'nope' })).client as never });
    await expect(embedder.embed(['x'])).rejects.toBeInstanceOf(EmbeddingError);
  });
});
