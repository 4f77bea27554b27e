import { ContentionError } from '../../errors.ts';
import { BatchGetCommand, type DynamoDBDocumentClient, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { CONTEXT_INDEX } from '../../contract/tables.ts';
import { tokenCounter } from '../tokens.ts';
import { renderEntry } from './context-index.ts';
export { renderContext } from './context-index.ts';
import { entryKey } from './items.ts';
import type { Rewrite } from './term-variants.ts';
import { type IndexedEntry, compare, rank, searchLibrary } from './word-rank.ts';
import { dot } from './embedder.ts';
import type { EntryVectors, StoredVectors } from './entry-vectors.ts';
import { type MemoryEntry, toEntry } from './reader.ts';

/**
 * Lazy context: instead of injecting all of shared memory into every model call (the field report's biggest token
 * expense), an agent retrieves the entries its task needs within a token budget.
 *
 * 1. One Query of the memory table's `context` index per namespace (more only past 1 MB) gives every live entry's
 *    searchable text, token count, tags and pin, as the steward stamped them when it applied the entry's update.
 * 2. Pinned entries (house rules) go in first, in namespace then key order, while they fit the budget.
 * 3. The rest are ranked by their words (`word-rank.ts`: BM25 over key, tags and text, stemmed, scaled by the share
 *    of the query's information each entry covers, a light boost for recency). Entries scoring under `minRelevance` of the best are not relevant and never loaded; the rest go
 *    in best first, and one that does not fit is skipped for smaller ones behind it.
 * 4. With embeddings (`EntryVectors`), one more Query per namespace reads the entries' vectors, the query is embedded
 *    once, and the entries are ranked by cosine as well; the two rankings are fused by reciprocal rank, so an entry
 *    worded differently from the task (`bill` for `invoice`) can be found by meaning and one with the task's words by
 *    them. Each entry says which half found it. If the query cannot be embedded, the words alone rank.
 * 5. One BatchGetItem (per 100 entries) reads the chosen entries themselves, strongly consistent.
 *
 * Before ranking, query words memory never uses are rewritten to memory's words they are a form of (`k8s` →
 * `kubernetes`, `term-variants.ts`).
 *
 * Store calls per retrieval: one per namespace plus one (two per namespace plus one with embeddings), whatever the
 * namespaces hold, up to 1 MB a namespace.
 */

export interface RetrievalRequest {
  /** Namespaces to draw from. */
  readonly namespaces: readonly string[];
  /** What the agent is about to do, in words: ranks entries. */
  readonly query: string;
  /** Most tokens (as `countTokens` counts the rendered entries) to load. */
  readonly budgetTokens: number;
  /** How many relevant entries that were left out to list, best first. @default 20 */
  readonly listOmitted?: number;
  /**
   * An entry scoring below this share of the best match is not relevant: it is neither loaded nor listed. Keeps a
   * generous budget from filling up with entries that share only common words with the query. @default 0.05
   */
  readonly minRelevance?: number;
  /**
   * The namespaces whose pinned entries count as pinned (the agent's spec sets it: the config's `pinnable`); an entry
   * marked pinned elsewhere is ranked like any other. @default - every namespace's pins count
   */
  readonly pinnable?: readonly string[];
}

/** Which half of retrieval found an entry: its words, its meaning, both; or it is pinned. */
export type FoundBy = 'pinned' | 'words' | 'meaning' | 'both';

/** An entry loaded into context, with what it costs and how it ranked (0 for a pinned entry). */
export interface RetrievedEntry extends MemoryEntry {
  readonly tokens: number;
  readonly score: number;
  readonly foundBy: FoundBy;
}

/** A relevant entry left out for the budget: enough to decide whether to fetch it with `memory.get`. */
export interface OmittedEntry {
  readonly namespace: string;
  readonly key: string;
  /** The start of its text, one line. */
  readonly summary: string;
  readonly tokens: number;
  readonly pinned: boolean;
  readonly score: number;
  readonly foundBy: FoundBy;
}

export interface RetrievedContext {
  readonly query: string;
  /** Pinned entries first, then best match first. */
  readonly entries: readonly RetrievedEntry[];
  /** Tokens of the entries loaded. */
  readonly tokensLoaded: number;
  /** Tokens of every entry in the namespaces: what injecting all of them would have cost. */
  readonly tokensFull: number;
  /** Relevant entries left out, best first, at most `listOmitted`. */
  readonly omitted: readonly OmittedEntry[];
  /** Every entry not loaded, relevant or not. */
  readonly omittedCount: number;
  /** DynamoDB calls this retrieval made. */
  readonly storeCalls: number;
  /**
   * The meaning half: the embedding model, the tokens embedding the query cost, how many entries had a vector of their
   * current text, and why the query could not be embedded if it could not. Absent without embeddings.
   */
  readonly embedding?: { readonly model: string; readonly tokens: number; readonly entriesWithVectors: number; readonly error?: string };
  /** Query words memory never uses, taken for memory's words they are a form of (`k8s` → `kubernetes`). */
  readonly rewrites: readonly Rewrite[];
}


type Ranked = { entry: IndexedEntry; score: number; foundBy: FoundBy };

const SUMMARY_CHARS = 120;
/** Entries the meaning half ranks at most: past them cosine says little (a sweep of 50 and 100 on the bench agreed). */
const MEANING_DEPTH = 50;
/** Reciprocal rank fusion's constant: rank r scores 1 / (K + r), as in Cormack et al. (2009). */
const RRF_K = 60;
const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_RETRIES = 5;

/** What `ctx.retrieve` runs on: a `ContextRetriever`, or the wiring's stand-in that loads one on first use. */
export interface Retriever {
  retrieve(request: RetrievalRequest): Promise<RetrievedContext>;
}

/** Ranks, packs and loads context from the memory table; one instance per table, safe to share. */
export class ContextRetriever implements Retriever {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; vectors?: EntryVectors }) {}

  async retrieve(request: RetrievalRequest): Promise<RetrievedContext> {
    if (!(Number.isFinite(request.budgetTokens) && request.budgetTokens >= 0)) {
      throw new RangeError(`budgetTokens must be a number ≥ 0, got ${request.budgetTokens}`);
    }
    if (request.namespaces.length === 0) throw new RangeError('retrieval needs at least one namespace');
    let storeCalls = 0;
    const candidates: IndexedEntry[] = [];
    for (const namespace of new Set(request.namespaces)) {
      const pages = paginateQuery(
        { client: this.options.client },
        {
          TableName: this.options.tableName,
          IndexName: CONTEXT_INDEX.indexName,
          KeyConditionExpression: '#ns = :ns',
          ExpressionAttributeNames: { '#ns': CONTEXT_INDEX.partitionKey },
          ExpressionAttributeValues: { ':ns': namespace },
        },
      );
      for await (const page of pages) {
        storeCalls++;
        const pinsCount = request.pinnable === undefined || request.pinnable.includes(namespace);
        for (const item of page.Items ?? []) candidates.push(indexed(namespace, item, pinsCount));
      }
    }

    const lexical = candidates.length === 0 ? { ranked: [], rewrites: [] } : rank(candidates, request.query, await searchLibrary());
    const floor = (lexical.ranked[0]?.score ?? 0) * (request.minRelevance ?? 0.05);
    const words = lexical.ranked.filter((r) => r.score >= floor);
    let ranked: Ranked[] = words.map((r) => ({ ...r, foundBy: 'words' as FoundBy }));
    let embedding: RetrievedContext['embedding'];
    const { vectors } = this.options;
    if (vectors && candidates.some((c) => !c.pinned)) {
      const meaning = await this.byMeaning(vectors, candidates, request.query);
      storeCalls += meaning.calls;
      embedding = meaning.embedding;
      if (meaning.ranked.length > 0) ranked = fuse(words, meaning.ranked, meaning.titles);
    }
    const chosen: { entry: IndexedEntry; score: number; foundBy: FoundBy }[] = [];
    let planned = 0;
    const take = (entry: IndexedEntry, score: number, foundBy: FoundBy) => {
      if (planned + entry.tokens > request.budgetTokens) return false;
      chosen.push({ entry, score, foundBy });
      planned += entry.tokens;
      return true;
    };
    const leftOut: { entry: IndexedEntry; score: number; foundBy: FoundBy }[] = [];
    const namespaceOrder = new Map(request.namespaces.map((n, i) => [n, i] as const));
    const pinned = candidates
      .filter((c) => c.pinned)
      .sort((a, b) => namespaceOrder.get(a.namespace)! - namespaceOrder.get(b.namespace)! || compare(a.key, b.key));
    for (const entry of pinned) if (!take(entry, 0, 'pinned')) leftOut.push({ entry, score: 0, foundBy: 'pinned' });
    for (const { entry, score, foundBy } of ranked) {
      if (!entry.pinned && !take(entry, score, foundBy)) leftOut.push({ entry, score, foundBy });
    }

    const { items, calls } = await this.batchGet(chosen.map((c) => c.entry));
    storeCalls += calls;
    const entries: RetrievedEntry[] = [];
    let tokensLoaded = 0;
    for (const { entry, score, foundBy } of chosen) {
      const item = items.get(entry.id);
      if (!item || item.kind === 'deleted') continue; // deleted since the index was read
      const loaded = toEntry(entry.namespace, item);
      // The index can trail the entry by one update (a merge is stamped right after it applies): recount then.
      const tokens = item.ctxSequence === entry.sequence ? entry.tokens : (await tokenCounter())(renderEntry(entry.namespace, entry.key, loaded.value));
      if (tokensLoaded + tokens > request.budgetTokens) {
        leftOut.unshift({ entry: { ...entry, tokens }, score, foundBy });
        continue;
      }
      entries.push({ ...loaded, tokens, score, foundBy });
      tokensLoaded += tokens;
    }
    const omitted = leftOut
      .sort((a, b) => Number(b.entry.pinned) - Number(a.entry.pinned) || b.score - a.score)
      .slice(0, request.listOmitted ?? 20)
      .map(({ entry, score, foundBy }) => ({
        namespace: entry.namespace,
        key: entry.key,
        summary: entry.text.length > SUMMARY_CHARS ? `${entry.text.slice(0, SUMMARY_CHARS - 1)}…` : entry.text,
        tokens: entry.tokens,
        pinned: entry.pinned,
        score,
        foundBy,
      }));
    return {
      query: request.query,
      entries,
      tokensLoaded,
      tokensFull: candidates.reduce((sum, c) => sum + c.tokens, 0),
      omitted,
      omittedCount: candidates.length - entries.length,
      storeCalls,
      rewrites: lexical.rewrites,
      ...(embedding ? { embedding } : {}),
    };
  }

  /**
   * Non-pinned entries with a vector of their current text, by cosine to the query, best first, at most
   * {@link MEANING_DEPTH}. An embedding that fails ranks nothing and says why.
   */
  private async byMeaning(vectors: EntryVectors, candidates: readonly IndexedEntry[], query: string) {
    let calls = 0;
    const stored = new Map<string, StoredVectors>();
    for (const namespace of new Set(candidates.map((c) => c.namespace))) {
      const read = await vectors.read(namespace);
      calls += read.calls;
      for (const [key, v] of read.vectors) stored.set(`${namespace}/${key}`, v);
    }
    const usable = candidates.filter((c) => !c.pinned && stored.get(c.id)?.of === vectors.expectedOf(c.key, c.tagList, c.text));
    const base = { model: vectors.model, entriesWithVectors: usable.length };
    if (usable.length === 0) return { ranked: [], titles: [], calls, embedding: { ...base, tokens: 0 } };
    let embedded: { vector: Float32Array; tokens: number };
    try {
      embedded = await vectors.embedQuery(query);
    } catch (error) {
      return { ranked: [], titles: [], calls, embedding: { ...base, tokens: 0, error: error instanceof Error ? error.message : String(error) } };
    }
    const byCosine = (vectorOf: (v: StoredVectors) => Float32Array | undefined) =>
      usable
        .flatMap((entry) => {
          const v = vectorOf(stored.get(entry.id)!);
          return v ? [{ entry, score: dot(embedded.vector, v) }] : [];
        })
        .sort((a, b) => b.score - a.score || compare(a.entry.id, b.entry.id))
        .slice(0, MEANING_DEPTH);
    return { ranked: byCosine((v) => v.vector), titles: byCosine((v) => v.title), calls, embedding: { ...base, tokens: embedded.tokens } };
  }

  /** Reads entries by key, 100 a call, retrying what DynamoDB leaves unprocessed. */
  private async batchGet(entries: readonly IndexedEntry[]) {
    const items = new Map<string, Record<string, unknown>>();
    let calls = 0;
    const { client, tableName } = this.options;
    for (let start = 0; start < entries.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] = entries.slice(start, start + BATCH_GET_LIMIT).map((e) => entryKey(e.namespace, e.key));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > MAX_UNPROCESSED_RETRIES) throw new ContentionError(`could not read ${keys.length} memory entries: DynamoDB kept them unprocessed`);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
        calls++;
        const result = await client.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of result.Responses?.[tableName] ?? []) items.set(`${(item.pk as string).slice(4)}/${item.sk as string}`, item);
        keys = (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return { items, calls };
  }
}

/**
 * Reciprocal rank fusion of the words' ranking (entries above the relevance floor) and the meaning's: each list adds
 * 1 / (K + rank) to an entry's score. Scores from different scales are never compared, only ranks.
 */
function fuse(words: readonly { entry: IndexedEntry; score: number }[], meaning: readonly { entry: IndexedEntry; score: number }[], titles: readonly { entry: IndexedEntry; score: number }[] = []): Ranked[] {
  const fused = new Map<string, { entry: IndexedEntry; score: number; words: boolean; meaning: boolean }>();
  const add = (list: readonly { entry: IndexedEntry }[], half: 'words' | 'meaning') =>
    list.forEach(({ entry }, rank) => {
      const slot = fused.get(entry.id) ?? { entry, score: 0, words: false, meaning: false };
      slot.score += 1 / (RRF_K + rank + 1);
      slot[half] = true;
      fused.set(entry.id, slot);
    });
  add(words, 'words');
  add(meaning, 'meaning');
  add(titles, 'meaning');
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || b.entry.updatedAt - a.entry.updatedAt || compare(a.entry.id, b.entry.id))
    .map(({ entry, score, words: w, meaning: m }) => ({ entry, score, foundBy: w && m ? 'both' : w ? 'words' : 'meaning' }));
}


function indexed(namespace: string, item: Record<string, unknown>, pinsCount: boolean): IndexedEntry {
  const key = item.sk as string;
  return {
    id: `${namespace}/${key}`,
    namespace,
    key,
    text: (item.ctxText as string | undefined) ?? '',
    tags: ((item.tags as string[] | undefined) ?? []).join(' '),
    tagList: (item.tags as string[] | undefined) ?? [],
    tokens: (item.ctxTokens as number | undefined) ?? 0,
    pinned: pinsCount && item.pinned === true,
    sequence: item.ctxSequence as string,
    updatedAt: (item.updatedAt as number | undefined) ?? 0,
  };
}

