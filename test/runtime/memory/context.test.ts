import { describe, expect, it } from 'vitest';
import { ContextLoader, estimateTokens } from '../../../src/runtime/memory/context';
import { dynamoForTest } from '../../support/dynamo';
import { delivered, freshNamespace, memory, update } from '../../support/memory';

const dynamo = await dynamoForTest('context');

async function seed(namespace: string, entries: Record<string, unknown>) {
  const { steward, reader, clock } = memory(dynamo);
  for (const [key, value] of Object.entries(entries)) {
    await steward.handle(delivered(update({ namespace, key, value })));
    await clock.advance(60_000);
  }
  return new ContextLoader(reader);
}

describe('lazy context', () => {
  it('returns the most relevant entries that fit the budget, and what loading everything would cost', async () => {
    const namespace = freshNamespace();
    const loader = await seed(namespace, {
      'fencing-tokens': { title: 'Fencing tokens stop paused lock holders', body: 'x'.repeat(400) },
      'circuit-breakers': { title: 'Circuit breakers for looping agents', body: 'y'.repeat(400) },
      'memory-steward': { title: 'A memory steward for agents', body: 'z'.repeat(400) },
    });
    const one = estimateTokens({ key: 'fencing-tokens', value: { title: 'Fencing tokens stop paused lock holders', body: 'x'.repeat(400) } });
    const loaded = await loader.load({ namespaces: [namespace], query: 'why fencing tokens matter for locks', budgetTokens: one + 10 });
    expect(loaded.entries.map((e) => e.key)).toEqual(['fencing-tokens']);
    expect(loaded.tokensLoaded).toBe(one);
    expect(loaded.tokensFull).toBeGreaterThan(3 * 100);
    expect(loaded.omitted).toBe(2);
  });

  it('breaks ties by recency and never exceeds the budget', async () => {
    const namespace = freshNamespace();
    const loader = await seed(namespace, { a: 'old note', b: 'newer note', c: 'newest note' });
    const loaded = await loader.load({ namespaces: [namespace], query: 'unrelated words', budgetTokens: 17 });
    expect(loaded.entries.map((e) => e.key)).toEqual(['c', 'b']);
    expect(loaded.tokensLoaded).toBe(17); // 9 + 8: the oldest (8 more) would not fit
  });

  it('loads nothing with a zero budget and refuses a negative one', async () => {
    const namespace = freshNamespace();
    const loader = await seed(namespace, { a: 'note' });
    expect((await loader.load({ namespaces: [namespace], query: 'note', budgetTokens: 0 })).entries).toEqual([]);
    await expect(loader.load({ namespaces: [namespace], query: 'note', budgetTokens: -1 })).rejects.toThrow('budgetTokens must be ≥ 0, got -1');
  });
});
