/**
 * `npm run bench`: every figure as a ratio against a baseline measured in the same run on this machine, printed as
 * `name key=value` lines and written to `bench/results/latest.json`.
 *
 *   bundle <function> <bytes>         what each deployed function loads at cold start (and lazily, on first use)
 *   cold_load ratio_vs_bare=<x>       slowest agent's module load / a bare DynamoDB document client handler's
 *   emit per_window=<n> …             ctx.emit's write units and store calls at 60…5,000 outputs per window, its time
 *                                     against a bare UpdateItem, and 100 / 1,000 concurrent emits against N
 *   steward ratio_vs_raw=<x>          steward throughput (batches of 10, 20 groups) / raw conditional writes'
 *   cli_status ratio_vs_help=<x>      `status --local` / `--help`, fresh processes
 *   simulate week=<s>                 a simulated week of the reference pipeline (`nightshift local --hours 168`)
 *   context recall=… cut=…            retrieval quality on a workload file or the seeded generator
 *
 * `npm run bench -- context [--workload <file.json>] [--seed <n>]` runs only the last.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import reference from '../nightshift.config.ts';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
import { createTables } from '../local/tables.ts';
import { runBundleBench } from './bundles/run.ts';
import { contextLine, runContextBench } from './context/run.ts';
import { PARAPHRASES } from './context/paraphrases.ts';
import { generateWorkload, parseWorkload } from './context/workload.ts';
import { runCliBench } from './hot-paths/cli.ts';
import { runEmitBench } from './hot-paths/emit.ts';
import { runStewardBench } from './hot-paths/steward.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { workload: { type: 'string' }, seed: { type: 'string', default: '1' }, paraphrase: { type: 'boolean', default: false } },
});
const only = positionals[0];
if (only !== undefined && only !== 'context') {
  console.error(`unknown benchmark '${only}': run \`npm run bench\` for all, or \`npm run bench -- context [--workload <file.json>]\``);
  process.exit(2);
}
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be a whole number, got '${values.seed}'`);
  process.exit(2);
}
const workload = (() => {
  if (!values.workload) return generateWorkload(seed, values.paraphrase ? { paraphrase: PARAPHRASES } : {});
  try {
    return parseWorkload(JSON.parse(readFileSync(values.workload, 'utf8')) as unknown, values.workload);
  } catch (error) {
    console.error(error instanceof SyntaxError ? `${values.workload}: not JSON: ${error.message}` : (error as Error).message);
    process.exit(2);
  }
})();

const results: Record<string, unknown> = {
  measuredAt: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
};
const fixed = (n: number, digits = 2) => n.toFixed(digits);
/** Titan Text Embeddings V2 on demand, us-east-1: $0.00002 per 1,000 input tokens (AWS Bedrock pricing page). */
const TITAN_USD_PER_TOKEN = 0.00002 / 1000;

if (only !== 'context') {
  const bundles = runBundleBench(reference);
  for (const f of bundles.functions) {
    console.log(`bundle ${f.function} ${f.coldStart} lazy=${f.lazy} cold_load_ms=${fixed(f.coldLoadMs, 1)} ratio_vs_bare=${fixed(f.ratioVsBare)}`);
  }
  const agents = bundles.functions.filter((f) => /(^|\/)Agent-/.test(f.function));
  const worst = agents.reduce((a, b) => (b.ratioVsBare > a.ratioVsBare ? b : a));
  console.log(`cold_load ratio_vs_bare=${fixed(worst.ratioVsBare)} (slowest agent ${worst.function}: ${fixed(worst.coldLoadMs, 1)} ms; bare DynamoDB handler ${fixed(bundles.bareColdLoadMs, 1)} ms, ${bundles.bareBytes} bytes)`);
  results.bundles = { ...bundles, functions: bundles.functions.map(({ coldStartInputs: _, ...figures }) => figures) };
}

const dynamo = await startDynamoDbLocal();
try {
  if (only !== 'context') {
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const tables = (label: string) => createTables(raw, `bench-${label}-${randomUUID().slice(0, 8)}`);

    const emit = await runEmitBench(client, async (label) => (await tables(label)).counters);
    for (const w of emit.windows) {
      console.log(
        `emit per_window=${w.perWindow}${w.windowMinutes === 60 ? '' : ` window_minutes=${w.windowMinutes}`} write_units_per_output=${fixed(w.writeUnitsPerOutput)} store_calls_per_output=${fixed(w.storeCallsPerOutput)} ` +
          `breaker_requests_per_output=${fixed(w.breakerRequestsPerOutput)} median_ms=${fixed(w.emitMedianMs)} ` +
          `(${w.outputs} outputs after a full window; ${fixed(w.refusedWritesPerOutput)} of the units are refused duplicate claims, billed 1 each)`,
      );
    }
    console.log(`emit ratio_vs_update=${fixed(emit.ratioVsUpdate)} (median emit at 60 per window / median bare UpdateItem ${fixed(emit.bareUpdateMedianMs)} ms, in process)`);
    for (const c of emit.concurrent) {
      console.log(`emit concurrent=${c.emits} instances=${c.instances} limit=${c.limit} published=${c.published} alerts=${c.alerts}`);
    }
    results.emit = emit;

    const steward = await runStewardBench(client, (await tables('steward')).memory);
    console.log(`steward ratio_vs_raw=${fixed(steward.ratioVsRaw)} (${steward.updates} updates in ${fixed(steward.stewardSeconds)} s; raw conditional PutItem ${fixed(steward.rawSeconds)} s)`);
    console.log(
      `steward embeddings_on_ratio=${fixed(steward.embeddingsRatio)} (the same updates with embeddings on: ${fixed(steward.embeddingsOnSeconds)} s; ` +
        `the embedder, apart: ${steward.embedded} entries at ${fixed(steward.embedderEntriesPerSecond, 1)} a second with the offline model)`,
    );
    results.steward = steward;

    const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-bench-')), 'state');
    try {
      const cli = runCliBench(stateDir);
      console.log(`simulate week=${fixed(cli.weekSeconds, 1)}s ratio_vs_realtime=${Math.round((7 * 86_400) / cli.weekSeconds)} (nightshift local --hours 168, process included)`);
      console.log(`cli_status ratio_vs_help=${fixed(cli.ratioVsHelp)} (status --local ${fixed(cli.statusSeconds)} s, --help ${fixed(cli.helpSeconds)} s)`);
      results.cli = cli;
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }

  const source = values.workload ?? `generated workload, seed ${seed}${values.paraphrase ? ', paraphrased' : ''}`;
  console.log(`retrieval on ${source}: ${workload.items.length} items, ${workload.tasks.length} tasks`);
  const lexical = await runContextBench(workload, dynamo.endpoint, { embeddings: false });
  const fused = await runContextBench(workload, dynamo.endpoint, { embeddings: true });
  if (fused.refused.length > 0) {
    console.log(`  ${fused.refused.length} item(s) refused by the write path, counted as not returned:`);
    for (const line of fused.refused.slice(0, 10)) console.log(`    ${line}`);
  }
  for (const miss of fused.worst.slice(0, 5)) console.log(`  fused: ${miss.task} missed ${miss.missed.join(', ')}`);
  console.log(contextLine('words', lexical));
  console.log(contextLine('fused', fused));
  const perEntryMs = ((fused.loadSeconds - lexical.loadSeconds) * 1000) / Math.max(1, fused.embedded);
  console.log(
    `context embedding: entries=${fused.embedded} tokens_per_entry=${(fused.embeddingTokens / Math.max(1, fused.embedded)).toFixed(1)} ` +
      `embedder_ms_per_entry=${perEntryMs.toFixed(1)} (offline model, apart from the steward; load ${fused.loadSeconds.toFixed(1)} s vs ${lexical.loadSeconds.toFixed(1)} s without) ` +
      `titan_usd_per_1k_entries=${((fused.embeddingTokens / Math.max(1, fused.embedded)) * 1000 * TITAN_USD_PER_TOKEN).toFixed(5)} ` +
      `query_tokens=${fused.queryTokensPerTask.toFixed(1)} retrieve_ratio_vs_words=${(fused.retrieveMs / lexical.retrieveMs).toFixed(2)}`,
  );
  results.context = { source, words: lexical, fused };
} finally {
  await dynamo.stop();
}

mkdirSync('bench/results', { recursive: true });
const file = only === 'context' ? 'bench/results/context.json' : 'bench/results/latest.json';
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`figures written to ${file}`);
