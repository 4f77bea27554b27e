/**
 * The one tokenizer Nightshift counts with: retrieval's budgets, the steward's per-entry counts, the budget check
 * before a model call and the offline model provider all use it, so their figures add up.
 *
 * It is OpenAI's `cl100k_base` BPE (gpt-tokenizer). Against the only published Claude tokenizer (Claude 2 era) it
 * counts 1-4% fewer tokens on English prose and JSON and 9% fewer on TypeScript; Claude 3+ and Amazon Titan
 * tokenizers are not published. That is why metering never uses it: the budget is charged with the usage each
 * model response reports, and this count is only the estimate a call is reserved with before it is sent (plus a
 * margin, `INPUT_ESTIMATE_MARGIN`).
 *
 * Text is counted in chunks of {@link CHUNK_CHARS} characters (a chunk boundary inside a word adds at most a token),
 * because BPE is quadratic in the length of one unbroken run of characters. Past {@link EXACT_CHARS} characters the
 * count is extrapolated from the first {@link EXACT_CHARS}: such an entry could never fit a prompt budget anyway.
 */
export type TokenCounter = (text: string) => number;

let loading: Promise<TokenCounter> | undefined;

/**
 * Loads the tokenizer on first use. Its rank table is a megabyte of code, so it is a chunk of its own that a
 * function loads only when it counts (a model call, the steward indexing an entry), not at cold start.
 */
export function tokenCounter(): Promise<TokenCounter> {
  loading ??= import('gpt-tokenizer/encoding/cl100k_base').then(({ countTokens: bpe }) => (text: string) => countTokens(bpe, text));
  return loading;
}

function countTokens(countCl100k: TokenCounter, text: string): number {
  if (text.length === 0) return 0;
  let tokens = 0;
  const counted = Math.min(text.length, EXACT_CHARS);
  for (let start = 0; start < counted; start += CHUNK_CHARS) tokens += countCl100k(text.slice(start, Math.min(start + CHUNK_CHARS, counted)));
  return counted === text.length ? tokens : Math.ceil((tokens * text.length) / counted);
}

const CHUNK_CHARS = 2_000;
const EXACT_CHARS = 32_000;
