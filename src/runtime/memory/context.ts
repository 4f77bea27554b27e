import type { MemoryEntry, MemoryReader } from './reader';

/**
 * Lazy context: instead of injecting all of shared memory into every model call (the field report's biggest token
 * expense), an agent asks for the entries relevant to its task within a token budget.
 *
 * Relevance is lexical and cheap: how many of the query's words (3+ letters) appear in an entry's key and value,
 * then recency. Entries are added best first while they fit the budget. Token counts are estimated at four
 * characters of JSON per token, the usual rule of thumb for English text with GPT-style tokenizers.
 */
export interface ContextRequest {
  readonly namespaces: readonly string[];
  /** What the agent is about to do, in words: ranks entries. */
  readonly query: string;
  readonly budgetTokens: number;
  /** Entries read per namespace at most. @default 500 */
  readonly maxEntriesPerNamespace?: number;
}

export interface LoadedContext {
  readonly entries: readonly MemoryEntry[];
  /** Estimated tokens of the entries returned. */
  readonly tokensLoaded: number;
  /** Estimated tokens of every entry considered: what injecting all of it would have cost. */
  readonly tokensFull: number;
  /** Entries left out for the budget. */
  readonly omitted: number;
}

export function estimateTokens(value: unknown): number {
  return Math.ceil(JSON.stringify(value ?? null).length / 4);
}

export class ContextLoader {
  constructor(private readonly reader: MemoryReader) {}

  async load(request: ContextRequest): Promise<LoadedContext> {
    if (!(request.budgetTokens >= 0)) throw new RangeError(`budgetTokens must be ≥ 0, got ${request.budgetTokens}`);
    const candidates: MemoryEntry[] = [];
    for (const namespace of request.namespaces) {
      let startAfterKey: string | undefined;
      const max = request.maxEntriesPerNamespace ?? 500;
      let read = 0;
      do {
        const page = await this.reader.query(namespace, { limit: Math.min(100, max - read), ...(startAfterKey ? { startAfterKey } : {}) });
        candidates.push(...page.entries);
        read += page.entries.length;
        startAfterKey = page.nextKey;
      } while (startAfterKey && read < max);
    }
    const terms = [...new Set(request.query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [])];
    const scored = candidates.map((entry) => {
      const text = `${entry.key} ${JSON.stringify(entry.value)}`.toLowerCase();
      return { entry, tokens: estimateTokens({ key: entry.key, value: entry.value }), score: terms.filter((t) => text.includes(t)).length };
    });
    scored.sort((a, b) => b.score - a.score || b.entry.updatedAt - a.entry.updatedAt);
    const entries: MemoryEntry[] = [];
    let tokensLoaded = 0;
    for (const { entry, tokens } of scored) {
      if (tokensLoaded + tokens > request.budgetTokens) continue;
      entries.push(entry);
      tokensLoaded += tokens;
    }
    return {
      entries,
      tokensLoaded,
      tokensFull: scored.reduce((sum, s) => sum + s.tokens, 0),
      omitted: scored.length - entries.length,
    };
  }
}
