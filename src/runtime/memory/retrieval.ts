import { ContentionError } from '../../errors.ts';
import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { CONTEXT_INDEX } from '../../contract/tables.ts';
import { once } from '../once.ts';
import { tokenCounter } from '../tokens.ts';
import { renderEntry } from './context-index.ts';
import { entryKey } from './items.ts';
import { type MemoryEntry, toEntry } from './reader.ts';

/**
 * Lazy context: instead of injecting all of shared memory into every model call (the field report's biggest token
 * expense), an agent retrieves the entries its task needs within a token budget.
 *
 * 1. One Query of the memory table's `context` index per namespace (more only past 1 MB) gives every live entry's
 *    searchable text, token count, tags and pin, as the steward stamped them when it applied the entry's update.
 * 2. Pinned entries (house rules) go in first, in namespace then key order, while they fit the budget.
 * 3. The rest are ranked with BM25 (MiniSearch) over key, tags and text, with English stemming and stop words
 *    dropped, scaled by the squared share of the query's information (IDF) each entry covers, with a light boost
 *    for recency. Entries scoring under `minRelevance` of the best are not relevant and never loaded; the rest go
 *    in best first, and one that does not fit is skipped for smaller ones behind it.
 * 4. One BatchGetItem (per 100 entries) reads the chosen entries themselves, strongly consistent.
 *
 * Store calls per retrieval: one per namespace plus one, whatever the namespaces hold.
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
}

/** An entry loaded into context, with what it costs and how it ranked (0 for a pinned entry). */
export interface RetrievedEntry extends MemoryEntry {
  readonly tokens: number;
  readonly score: number;
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
}

interface IndexedEntry {
  readonly id: string;
  readonly namespace: string;
  readonly key: string;
  readonly text: string;
  readonly tags: string;
  readonly tokens: number;
  readonly pinned: boolean;
  readonly sequence: string;
  readonly updatedAt: number;
}

const SUMMARY_CHARS = 120;
const RECENCY_WEIGHT = 0.1;
const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_RETRIES = 5;

/** Ranks, packs and loads context from the memory table; one instance per table, safe to share. */
export class ContextRetriever {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string }) {}

  async retrieve(request: RetrievalRequest): Promise<RetrievedContext> {
    if (!(Number.isFinite(request.budgetTokens) && request.budgetTokens >= 0)) {
      throw new RangeError(`budgetTokens must be a number ≥ 0, got ${request.budgetTokens}`);
    }
    if (request.namespaces.length === 0) throw new RangeError('retrieval needs at least one namespace');
    let storeCalls = 0;
    const candidates: IndexedEntry[] = [];
    for (const namespace of new Set(request.namespaces)) {
      let startKey: Record<string, unknown> | undefined;
      do {
        storeCalls++;
        const page = await this.options.client.send(
          new QueryCommand({
            TableName: this.options.tableName,
            IndexName: CONTEXT_INDEX.indexName,
            KeyConditionExpression: '#ns = :ns',
            ExpressionAttributeNames: { '#ns': CONTEXT_INDEX.partitionKey },
            ExpressionAttributeValues: { ':ns': namespace },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) candidates.push(indexed(namespace, item));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }

    const ranked = candidates.length === 0 ? [] : rank(candidates, request.query, await searchLibrary());
    const floor = (ranked[0]?.score ?? 0) * (request.minRelevance ?? 0.05);
    const chosen: { entry: IndexedEntry; score: number }[] = [];
    let planned = 0;
    const take = (entry: IndexedEntry, score: number) => {
      if (planned + entry.tokens > request.budgetTokens) return false;
      chosen.push({ entry, score });
      planned += entry.tokens;
      return true;
    };
    const leftOut: { entry: IndexedEntry; score: number }[] = [];
    const namespaceOrder = new Map(request.namespaces.map((n, i) => [n, i] as const));
    const pinned = candidates
      .filter((c) => c.pinned)
      .sort((a, b) => namespaceOrder.get(a.namespace)! - namespaceOrder.get(b.namespace)! || compare(a.key, b.key));
    for (const entry of pinned) if (!take(entry, 0)) leftOut.push({ entry, score: 0 });
    for (const { entry, score } of ranked) {
      if (!entry.pinned && score >= floor && !take(entry, score)) leftOut.push({ entry, score });
    }

    const { items, calls } = await this.batchGet(chosen.map((c) => c.entry));
    storeCalls += calls;
    const entries: RetrievedEntry[] = [];
    let tokensLoaded = 0;
    for (const { entry, score } of chosen) {
      const item = items.get(entry.id);
      if (!item || item.kind === 'deleted') continue; // deleted since the index was read
      const loaded = toEntry(entry.namespace, item);
      // The index can trail the entry by one update (a merge is stamped right after it applies): recount then.
      const tokens = item.ctxSequence === entry.sequence ? entry.tokens : (await tokenCounter())(renderEntry(entry.namespace, entry.key, loaded.value));
      if (tokensLoaded + tokens > request.budgetTokens) {
        leftOut.unshift({ entry: { ...entry, tokens }, score });
        continue;
      }
      entries.push({ ...loaded, tokens, score });
      tokensLoaded += tokens;
    }
    const omitted = leftOut
      .sort((a, b) => Number(b.entry.pinned) - Number(a.entry.pinned) || b.score - a.score)
      .slice(0, request.listOmitted ?? 20)
      .map(({ entry, score }) => ({
        namespace: entry.namespace,
        key: entry.key,
        summary: entry.text.length > SUMMARY_CHARS ? `${entry.text.slice(0, SUMMARY_CHARS - 1)}…` : entry.text,
        tokens: entry.tokens,
        pinned: entry.pinned,
        score,
      }));
    return {
      query: request.query,
      entries,
      tokensLoaded,
      tokensFull: candidates.reduce((sum, c) => sum + c.tokens, 0),
      omitted,
      omittedCount: candidates.length - entries.length,
      storeCalls,
    };
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

/** The retrieved entries as one block of text for a model prompt; its tokens are `context.tokensLoaded`. */
export function renderContext(context: Pick<RetrievedContext, 'entries'>): string {
  return context.entries.map((e) => renderEntry(e.namespace, e.key, e.value)).join('');
}

function indexed(namespace: string, item: Record<string, unknown>): IndexedEntry {
  const key = item.sk as string;
  return {
    id: `${namespace}/${key}`,
    namespace,
    key,
    text: (item.ctxText as string | undefined) ?? '',
    tags: ((item.tags as string[] | undefined) ?? []).join(' '),
    tokens: (item.ctxTokens as number | undefined) ?? 0,
    pinned: item.pinned === true,
    sequence: item.ctxSequence as string,
    updatedAt: (item.updatedAt as number | undefined) ?? 0,
  };
}

/** The search engine and stemmer, loaded when an agent first retrieves: not every run does. */
const searchLibrary = once(async () => {
  const [{ default: MiniSearch }, { stemmer }] = await Promise.all([import('minisearch'), import('stemmer')]);
  return { MiniSearch, stemmer };
});

type SearchLibrary = Awaited<ReturnType<typeof searchLibrary>>;

/** Non-pinned entries sharing a term with the query, best first (ties: newer, then key order). */
function rank(candidates: readonly IndexedEntry[], query: string, { MiniSearch, stemmer }: SearchLibrary): { entry: IndexedEntry; score: number }[] {
  const normalizeTerm = (term: string) => normalize(term, stemmer);
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const oldest = Math.min(...candidates.map((c) => c.updatedAt));
  const span = Math.max(...candidates.map((c) => c.updatedAt)) - oldest || 1;
  const search = new MiniSearch<IndexedEntry>({
    idField: 'id',
    fields: ['key', 'tags', 'text'],
    storeFields: [],
    tokenize: splitWords,
    processTerm: normalizeTerm,
  });
  search.addAll(candidates);
  // Coordination: BM25 sums per-term scores, so an entry repeating one of the query's words can outrank one that
  // covers all of them. Scale each score by the squared share of the query's information (IDF) the entry covers.
  const terms = [...new Set(splitWords(query).map(normalizeTerm).filter((t): t is string => t !== null))];
  const idf = new Map(terms.map((term) => {
    const df = search.search(term).length;
    return [term, Math.log(1 + (candidates.length - df + 0.5) / (df + 0.5))] as const;
  }));
  const information = [...idf.values()].reduce((sum, v) => sum + v, 0) || 1;
  return search
    .search(query, {
      boost: { key: 2, tags: 2, text: 1 },
      combineWith: 'OR',
      boostDocument: (id: string) => 1 + (RECENCY_WEIGHT * (byId.get(id)!.updatedAt - oldest)) / span,
    })
    .map((hit) => {
      const covered = hit.queryTerms.reduce((sum, term) => sum + (idf.get(term) ?? 0), 0) / information;
      return { entry: byId.get(hit.id as string)!, score: hit.score * covered ** 2 };
    })
    .sort((a, b) => b.score - a.score || b.entry.updatedAt - a.entry.updatedAt || compare(a.entry.id, b.entry.id));
}

/** Words of keys (`billing-retry`, `retryPolicy`), tags and text. */
function splitWords(text: string): string[] {
  return text.replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2').split(/[^\p{L}\p{N}]+/u);
}

function normalize(term: string, stemmer: (word: string) => string): string | null {
  const lower = term.toLowerCase();
  if (lower.length < 2 || STOP_WORDS.has(lower)) return null;
  return stemmer(lower);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** English function words: they match everything and rank nothing. */
const STOP_WORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further had has have having he her here hers herself him ' +
    'himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other ' +
    'our ours ourselves out over own same she should so some such than that the their theirs them themselves then there ' +
    'these they this those through to too under until up very was we were what when where which while who whom why will ' +
    'with would you your yours yourself yourselves'
  ).split(' '),
);
