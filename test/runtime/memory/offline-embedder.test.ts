import { describe, expect, it } from 'vitest';
import { dot } from '../../../src/runtime/memory/embedder.ts';
import { offlineEmbedder } from '../../../src/runtime/memory/offline-embedder.ts';

/** The offline embedder (the Universal Sentence Encoder, lite) with the vectors of recent texts kept in process. */
describe('offline embedder', () => {
  it('gives a text the same vector alone, in a batch, repeated and after others, and never shares a kept vector', async () => {
    const embedder = offlineEmbedder();
    const texts = ['memory stewards apply updates in order', 'the circuit breaker trips at 3am', '', 'memory stewards apply updates in order'];
    const batch = await embedder.embed(texts);
    expect(batch.vectors).toHaveLength(4);
    expect(batch.tokens).toBeGreaterThan(0);
    const alone = await Promise.all(texts.map(async (t) => (await offlineEmbedder().embed([t])).vectors[0]!));
    batch.vectors.forEach((vector, i) => {
      expect(vector).toHaveLength(512);
      expect(dot(vector, alone[i]!)).toBeCloseTo(1, 5);
    });
    // Different texts, different directions.
    expect(dot(batch.vectors[0]!, batch.vectors[1]!)).toBeLessThan(0.9);
    // A caller changing its vector changes nothing the embedder hands out next.
    batch.vectors[0]!.fill(0);
    expect(batch.vectors[3]![0]).not.toBe(0);
    const again = await embedder.embed(['memory stewards apply updates in order']);
    expect(dot(again.vectors[0]!, alone[0]!)).toBeCloseTo(1, 5);
    // Tokens are what the texts cost, kept vectors or not.
    expect(again.tokens).toBe((await offlineEmbedder().embed(['memory stewards apply updates in order'])).tokens);
  });
});
