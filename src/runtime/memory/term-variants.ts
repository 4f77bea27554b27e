/**
 * Bridges a task's wording to memory's where they differ only in form: no model, no word list, only the vocabulary
 * of the entries being ranked. A query word that memory never uses is rewritten to the memory words it is a form of:
 *
 * - another spelling: British and American (`optimisation`, `optimization`), hyphens (`on-call`, `oncall`);
 * - a compound written apart (`site map` → `sitemap`, `post mortem` → `postmortem`);
 * - an acronym of words written out, or words written out for an acronym (`search engine optimisation` → `seo`);
 * - a numeronym (`k8s` → `kubernetes`, `i18n` → `internationalization`);
 * - a clipped word or a longer form of the same stem (`mod` → `moderator`, `postgresql` → `postgres`).
 *
 * Meaning (`bill` for `invoice`) is the embeddings' half of retrieval; this is the lexical half's reach.
 */

export interface Rewrite {
  /** The query's words as written. */
  readonly from: string;
  /** Memory's words they were taken for. */
  readonly to: readonly string[];
}

const MIN_CLIP = 3;
const MIN_SHARED_STEM = 6;
/** A clipped word that could be the start of more memory words than this is too vague to rewrite. */
const MAX_CLIP_MATCHES = 3;

/** The query's words, with those memory never uses rewritten where a form of them is in `vocabulary`. */
export function rewriteQuery(words: readonly string[], vocabulary: ReadonlySet<string>, isStopWord: (word: string) => boolean): { words: string[]; rewrites: Rewrite[] } {
  const lower = words.map((w) => w.toLowerCase()).filter((w) => w.length > 0);
  const spelled = new Map<string, string[]>();
  for (const term of vocabulary) {
    const key = spelling(term);
    spelled.set(key, [...(spelled.get(key) ?? []), term]);
  }
  const out: string[] = [];
  const rewrites: Rewrite[] = [];
  for (let i = 0; i < lower.length; i++) {
    const word = lower[i]!;
    // Longest first: words written out for an acronym or apart for a compound, up to four.
    let joined = false;
    for (let n = Math.min(4, lower.length - i); n >= 2 && !joined; n--) {
      const span = lower.slice(i, i + n);
      if (vocabulary.has(span.join(''))) {
        out.push(span.join(''));
        rewrites.push({ from: span.join(' '), to: [span.join('')] });
        joined = true;
        i += n - 1;
        break;
      }
      const content = span.filter((w) => !isStopWord(w));
      const acronym = content.map((w) => w[0]).join('');
      if (content.length >= 2 && !isStopWord(span[0]!) && !isStopWord(span[n - 1]!) && vocabulary.has(acronym) && !span.some((w) => vocabulary.has(w))) {
        out.push(acronym);
        rewrites.push({ from: span.join(' '), to: [acronym] });
        joined = true;
        i += n - 1;
      }
    }
    if (joined) continue;
    if (vocabulary.has(word) || isStopWord(word) || word.length < 2) {
      out.push(word);
      continue;
    }
    const to = formsOf(word, vocabulary, spelled);
    if (to.length === 0) {
      out.push(word);
      continue;
    }
    out.push(...to);
    rewrites.push({ from: word, to });
  }
  return { words: out, rewrites };
}

/** Memory words `word` is another form of, most certain kind first. */
function formsOf(word: string, vocabulary: ReadonlySet<string>, spelled: ReadonlyMap<string, string[]>): string[] {
  const respelled = spelled.get(spelling(word));
  if (respelled) return respelled;
  const numeronym = /^(\p{L})(\d{1,2})(\p{L})$/u.exec(word);
  if (numeronym) {
    const [, first, count, last] = numeronym;
    return [...vocabulary].filter((t) => t.length === Number(count) + 2 && t.startsWith(first!) && t.endsWith(last!));
  }
  if (/\d/.test(word)) return [];
  if (word.length >= MIN_CLIP) {
    const longer = [...vocabulary].filter((t) => t.length > word.length && t.startsWith(word));
    if (longer.length > 0 && longer.length <= MAX_CLIP_MATCHES) return longer;
  }
  const stem = [...vocabulary].filter((t) => {
    const shared = commonPrefix(t, word);
    return shared >= MIN_SHARED_STEM && shared >= 0.7 * Math.min(t.length, word.length);
  });
  return stem.length <= MAX_CLIP_MATCHES ? stem : [];
}

/** One spelling for British and American forms and for hyphenated, spaced or joined ones. */
export function spelling(word: string): string {
  return word
    .toLowerCase()
    .replace(/[-_'’]/g, '')
    .replace(/is(ation|ations|e|es|ed|ing|er|ers)$/, 'iz$1')
    .replace(/ys(e|es|ed|ing)$/, 'yz$1')
    .replace(/our(s|ed|ing|ite|ites|able)?$/, 'or$1')
    .replace(/tre(s)?$/, 'ter$1')
    .replace(/ogue(s)?$/, 'og$1')
    .replace(/edgement(s)?$/, 'edgment$1')
    .replace(/ll(ed|ing|er)$/, 'l$1');
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
