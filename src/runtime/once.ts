/**
 * `load` run on the first call and its promise shared by every later one: for clients a function needs only on a
 * rare path, imported (and so loaded from disk) when that path first runs instead of at cold start. A failed load
 * is forgotten, so the next call tries again.
 */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
