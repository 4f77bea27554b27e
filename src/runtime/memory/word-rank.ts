import { once } from '../once.ts';
import { type Rewrite, rewriteQuery } from './term-variants.ts';

/**
 * The words half of retrieval: BM25 (MiniSearch) over each entry's key, tags and text, with English stemming and stop
 * words dropped, scaled by the squared share of the query's information (IDF) each entry covers, with a light boost
 * for recency. Query words memory never uses are first rewritten to their forms in memory (`term-variants.ts`).
 */

/** An entry as the context index has it: what ranking and packing need, without reading the entry. */
export interface IndexedEntry {
  readonly id: string;
  readonly namespace: string;
  readonly key: string;
  readonly text: string;
  readonly tags: string;
  readonly tagList: readonly string[];
  readonly tokens: number;
  readonly pinned: boolean;
  readonly sequence: string;
  readonly updatedAt: number;
}

const RECENCY_WEIGHT = 0.1;

/** The search engine and stemmer, loaded when an agent first retrieves: not every run does. */
export const searchLibrary = once(async () => {
  const [{ default: MiniSearch }, { stemmer }] = await Promise.all([import('minisearch'), import('stemmer')]);
  return { MiniSearch, stemmer };
});

type SearchLibrary = Awaited<ReturnType<typeof searchLibrary>>;

/** Non-pinned entries sharing a term with the query, best first (ties: newer, then key order). */
export function rank(candidates: readonly IndexedEntry[], asked: string, { MiniSearch, stemmer }: SearchLibrary): { ranked: { entry: IndexedEntry; score: number }[]; rewrites: Rewrite[] } {
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
  const vocabulary = new Set(candidates.flatMap((c) => splitWords(`${c.key} ${c.tags} ${c.text}`).map((w) => w.toLowerCase())));
  const { words, rewrites } = rewriteQuery(splitWords(asked), vocabulary, (w) => STOP_WORDS.has(w));
  const query = words.join(' ');
  // Coordination: BM25 sums per-term scores, so an entry repeating one of the query's words can outrank one that
  // covers all of them. Scale each score by the squared share of the query's information (IDF) the entry covers.
  const terms = [...new Set(splitWords(query).map(normalizeTerm).filter((t): t is string => t !== null))];
  const idf = new Map(terms.map((term) => {
    const df = search.search(term).length;
    return [term, Math.log(1 + (candidates.length - df + 0.5) / (df + 0.5))] as const;
  }));
  const information = [...idf.values()].reduce((sum, v) => sum + v, 0) || 1;
  const ranked = search
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
  return { ranked, rewrites };
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

export function compare(a: string, b: string): number {
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
