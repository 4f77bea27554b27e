import type { TokenCounter } from '../tokens.ts';

/**
 * What the steward stamps on a live memory entry so retrieval can rank and pack it without reading it: the text
 * it is searched by, the tokens it costs in a prompt, and the sequence they were computed from. The memory table's
 * `context` index (`CONTEXT_INDEX` in `src/contract/tables.ts`) projects these with the entry's `tags`, `pinned` and `updatedAt`.
 */

/** Searchable text kept per entry; longer values are searched by their first this-many characters. */
export const CONTEXT_TEXT_MAX_CHARS = 4_000;

export interface ContextAttributes {
  readonly ctxNamespace: string;
  readonly ctxText: string;
  readonly ctxTokens: number;
  readonly ctxSequence: string;
}

/** How one entry reads in a model prompt; its token count is what retrieval budgets with. */
export function renderEntry(namespace: string, key: string, value: unknown): string {
  return `## ${namespace}/${key}\n${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
}

/** The words of a value: every string, number and boolean in it, in order, whitespace collapsed. */
export function searchableText(value: unknown): string {
  const words: string[] = [];
  const visit = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object') Object.values(v).forEach(visit);
    else words.push(String(v));
  };
  visit(value);
  return words.join(' ').replace(/\s+/g, ' ').trim().slice(0, CONTEXT_TEXT_MAX_CHARS);
}

/**
 * The index attributes for `value` stored at `namespace/key` by the update with padded sequence `sequence`, its
 * tokens counted with `countTokens` (from `tokenCounter()`).
 */
export function contextAttributes(namespace: string, key: string, value: unknown, sequence: string, countTokens: TokenCounter): ContextAttributes {
  return {
    ctxNamespace: namespace,
    ctxText: searchableText(value),
    ctxTokens: countTokens(renderEntry(namespace, key, value)),
    ctxSequence: sequence,
  };
}

/** The retrieved entries as one block of text for a model prompt; its tokens are `context.tokensLoaded`. */
export function renderContext(context: { readonly entries: readonly { readonly namespace: string; readonly key: string; readonly value: unknown }[] }): string {
  return context.entries.map((e) => renderEntry(e.namespace, e.key, e.value)).join('');
}
