import * as z from 'zod';

/**
 * A retrieval workload: memory entries and tasks that each name the entries they need. The format of
 * `npm run bench -- context --workload <file.json>`; `generateWorkload` makes a seeded one.
 */
export const workloadSchema = z.strictObject({
  items: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        namespace: z.string().min(1),
        key: z.string().min(1),
        text: z.string(),
        tags: z.array(z.string()).default([]),
        pinned: z.boolean().default(false),
      }),
    )
    .min(1),
  tasks: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        agent: z.string().min(1),
        query: z.string().min(1),
        namespaces: z.array(z.string().min(1)).min(1),
        budgetTokens: z.number().positive(),
        needed: z.array(z.string().min(1)),
      }),
    )
    .min(1),
});

export type Workload = z.output<typeof workloadSchema>;

/** Reads a workload; every problem at once, each naming its path, and needed ids that name no item. */
export function parseWorkload(input: unknown, source: string): Workload {
  const result = workloadSchema.safeParse(input);
  if (!result.success) {
    throw new Error(`${source}: not a workload:\n${result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  const ids = new Set(result.data.items.map((i) => i.id));
  const problems = result.data.tasks.flatMap((task, t) =>
    task.needed.filter((id) => !ids.has(id)).map((id) => `  tasks.${t}.needed: '${id}' is not the id of any item`),
  );
  if (problems.length > 0) throw new Error(`${source}: not a workload:\n${problems.join('\n')}`);
  return result.data;
}

/** Mulberry32: a small seeded PRNG, so a seed always gives the same workload. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]) => list[int(list.length)]!;
  const sample = <T>(list: readonly T[], n: number) => {
    const copy = [...list];
    const out: T[] = [];
    while (out.length < n && copy.length > 0) out.push(copy.splice(int(copy.length), 1)[0]!);
    return out;
  };
  return { next, int, pick, sample };
}

/** Words every topic uses: ranking must tell topics apart despite them. */
const SHARED = [
  'agent', 'agents', 'pipeline', 'queue', 'retry', 'retries', 'schedule', 'memory', 'output', 'outputs', 'token', 'tokens',
  'alert', 'run', 'runs', 'update', 'updates', 'lock', 'night', 'job', 'failure', 'limit', 'window', 'config', 'team',
  'customer', 'report', 'data', 'service', 'request', 'error', 'time', 'daily', 'check', 'result', 'status',
];

/** Words only a topic's entries use (a few are shared by two neighbouring topics). */
const DISTINCT = (
  'invoice refund chargeback ledger payout currency vendor receipt subscription dunning ' +
  'kubernetes helm cluster node pod ingress autoscaler namespace volume sidecar ' +
  'discord webhook moderator channel emoji thread mention reaction invite banner ' +
  'seo keyword backlink sitemap crawler canonical snippet ranking metadata slug ' +
  'newsletter subscriber unsubscribe template campaign bounce digest segment footer preheader ' +
  'embedding vector cosine chunk retriever rerank corpus recall index shard ' +
  'postgres vacuum replica failover migration schema trigger sequence partition wal ' +
  'oncall pager escalation runbook incident postmortem severity handoff rotation acknowledgement ' +
  'translation locale glossary spanish german japanese idiom transcreation terminology dialect ' +
  'invoice-ocr scanner pdf layout table extraction handwriting confidence bounding checkbox ' +
  'pricing discount coupon tier trial upsell churn seat annual quote ' +
  'gdpr consent retention erasure processor controller breach dpa cookie anonymization ' +
  'podcast episode transcript audio guest intro chapter mixdown loudness rss ' +
  'warehouse inventory sku pallet picking shipment carrier backorder restock barcode'
).split(' ');

const TOPIC_SIZE = 10;
const NAMESPACES = ['research', 'drafts', 'ops', 'support', 'product'];

/** Sentences about a subject (s: its two words, t: other words of its topic, c: common words). */
const SUBJECT_SENTENCES = [
  (s: string[], t: string[], c: string[]) => `Decision on ${s[0]} ${s[1]}: the ${c[0]} ${c[1]} handles it, and every ${s[1]} ${c[2]} is logged with its ${t[0]}.`,
  (s: string[], t: string[], c: string[]) => `Incident: a ${s[0]} ${c[0]} broke the ${s[1]} ${c[1]} overnight; the fix caps ${t[0]} per ${c[2]}.`,
  (s: string[], t: string[], c: string[]) => `How-to: to change the ${s[0]} ${s[1]}, edit the ${c[0]} and rerun the ${c[1]}; the ${t[0]} ${c[2]} must pass.`,
  (s: string[], t: string[], c: string[]) => `Customer question about ${s[1]}: why does ${s[0]} ${c[0]} lag the ${c[1]}? Because ${t[0]} waits for the ${c[2]}.`,
  (s: string[], t: string[], c: string[]) => `Measured: ${s[0]} ${s[1]} took 40% of the ${c[0]} ${c[1]} last week, mostly ${t[0]} ${c[2]}.`,
];

/** Background sentences: the topic's other words and the common vocabulary, matching many queries a little. */
const BACKGROUND_SENTENCES = [
  (t: string[], c: string[]) => `Context: ${t[0]} and ${t[1]} share the ${c[0]} ${c[1]} with the ${c[2]}.`,
  (t: string[], c: string[]) => `Also seen: ${t[0]} ${c[0]} and a ${t[1]} ${c[1]} during the ${c[2]}.`,
  (t: string[], c: string[]) => `Open point: whether the ${c[0]} should own ${t[0]}, not the ${c[1]} ${c[2]}.`,
];

const RULES = [
  'House rule: never publish a number nobody measured; quote the source of every figure.',
  'House rule: plain English, short sentences, no hype words.',
  'House rule: anything drafted by an agent says so in its last line.',
  'House rule: customer names never appear in public output without written consent.',
  'House rule: times are written in UTC with the date, never as relative phrases.',
  'House rule: every change to production goes through a reviewed pull request.',
  'House rule: escalate to the on-call human when a refund exceeds 500 euros.',
  'House rule: keep personal data out of memory entries; store ids, not names.',
];

export interface GenerateOptions {
  readonly items?: number;
  readonly tasks?: number;
  /**
   * Word tasks as people do who did not write the entries: each subject word is replaced, with probability 0.7 and
   * at least one per task, by one of its wordings here (`PARAPHRASES` in `paraphrases.ts`). @default - memory's words
   */
  readonly paraphrase?: Readonly<Record<string, readonly string[]>>;
}

/**
 * A seeded workload. Fourteen topics of ten distinct words, neighbours sharing two; each topic has subjects (a pair
 * of its words), each subject 1–3 entries in the topic's namespaces; every entry also carries background sentences
 * in its topic's other words and a common vocabulary all topics share, so ranking must discriminate. A task asks
 * about one subject in its own words (one of them inflected, plus common words) and needs that subject's entries in
 * its namespaces, and, when it reads the `rules` namespace, two pinned house rules.
 */
export function generateWorkload(seed = 1, options: GenerateOptions = {}): Workload {
  const rng = random(seed);
  const topicCount = DISTINCT.length / TOPIC_SIZE;
  const topics = Array.from({ length: topicCount }, (_, t) => {
    const own = DISTINCT.slice(t * TOPIC_SIZE, (t + 1) * TOPIC_SIZE);
    const next = ((t + 1) % topicCount) * TOPIC_SIZE;
    return { words: [...own, ...DISTINCT.slice(next, next + 2)], own, namespaces: rng.sample(NAMESPACES, 2 + rng.int(2)) };
  });
  const items: Workload['items'] = RULES.map((text, i) => ({ id: `rules/rule-${i + 1}`, namespace: 'rules', key: `rule-${i + 1}`, text, tags: ['house-rules'], pinned: true }));
  const subjects: { topic: number; words: string[]; items: Workload['items'] }[] = [];
  const target = options.items ?? 520;
  for (let n = 0; items.length < target; n++) {
    const t = n % topicCount;
    const topic = topics[t]!;
    const words = rng.sample(topic.own, 2);
    const subject = { topic: t, words, items: [] as Workload['items'] };
    subjects.push(subject);
    for (let k = 1 + rng.int(3); k > 0 && items.length < target; k--) {
      const namespace = rng.pick(topic.namespaces);
      const others = topic.words.filter((w) => !words.includes(w));
      const sentences = [
        ...Array.from({ length: 1 + rng.int(2) }, () => rng.pick(SUBJECT_SENTENCES)(words, rng.sample(others, 1), rng.sample(SHARED, 3))),
        ...Array.from({ length: 1 + rng.int(3) }, () => rng.pick(BACKGROUND_SENTENCES)(rng.sample(topic.words, 2), rng.sample(SHARED, 3))),
      ];
      const key = `${words.join('-')}-${items.length}`;
      const item = { id: `${namespace}/${key}`, namespace, key, text: sentences.join(' '), tags: [rng.pick(topic.own)], pinned: false };
      items.push(item);
      subject.items.push(item);
    }
  }
  const pinned = items.filter((i) => i.pinned);
  const tasks: Workload['tasks'] = [];
  for (let n = 0; tasks.length < (options.tasks ?? 120); n++) {
    const subject = rng.pick(subjects);
    const topic = topics[subject.topic]!;
    const namespaces = [...new Set([...topic.namespaces, rng.pick(NAMESPACES), ...(rng.next() < 0.7 ? ['rules'] : [])])];
    const needed = subject.items.filter((i) => namespaces.includes(i.namespace)).map((i) => i.id);
    if (needed.length === 0) continue;
    const asked = options.paraphrase ? paraphrased(subject.words, options.paraphrase, rng) : subject.words.map((w, i) => (i === 1 && rng.next() < 0.5 ? inflect(w) : w));
    tasks.push({
      id: `t${tasks.length + 1}`,
      agent: rng.pick(['writer', 'planner', 'support', 'analyst']),
      query: `${rng.pick(['Draft', 'Explain', 'Summarise', 'Answer', 'Plan'])} ${rng.pick(['an update on', 'what changed in', 'the open questions about', 'a reply about'])} the ${asked.join(' ')} for the ${rng.pick(SHARED)} ${rng.pick(SHARED)}`,
      namespaces,
      budgetTokens: 800 + 100 * rng.int(13),
      needed: [...needed, ...(namespaces.includes('rules') ? rng.sample(pinned, 2).map((i) => i.id) : [])],
    });
  }
  return { items, tasks };
}

/** The subject's words, each reworded with probability 0.7 and at least one of them (when any has a wording). */
function paraphrased(words: readonly string[], table: Readonly<Record<string, readonly string[]>>, rng: ReturnType<typeof random>): string[] {
  const reworded = words.map((w) => (table[w] && rng.next() < 0.7 ? rng.pick(table[w]) : w));
  const candidates = words.map((w, i) => i).filter((i) => table[words[i]!] !== undefined);
  if (reworded.every((w, i) => w === words[i]) && candidates.length > 0) {
    const i = rng.pick(candidates);
    reworded[i] = rng.pick(table[words[i]!]!);
  }
  return reworded;
}

/** The word as a query might use it: plural or gerund. */
function inflect(word: string): string {
  if (word.endsWith('e')) return `${word.slice(0, -1)}ing`;
  return word.endsWith('s') ? word : `${word}s`;
}
