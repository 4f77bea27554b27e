/**
 * `npm run bench`: speed figures, each as a ratio against a baseline measured in the same run on the same
 * DynamoDB Local, so the numbers mean something on any machine.
 *
 *   1. a simulated day of the reference pipeline, against real time (a day is 86,400 s);
 *   2. the steward applying N memory updates, against N bare PutItems (one store call each is the target);
 *   3. ctx.emit's breaker accounting for N outputs, against N bare UpdateItems;
 *   4. retrieval quality: recall of the entries tasks need, the token cut against injecting everything, and store
 *      calls per retrieval, on a workload file or the seeded generator.
 *
 * `npm run bench -- context [--workload <file.json>] [--seed <n>]` runs only the fourth.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import reference from '../nightshift.config';
import { agentSpec } from '../src/config/agent-spec';
import { startDynamoDbLocal } from '../src/local/dynamodb-local';
import { simulate } from '../src/local/runner';
import { createTables } from '../src/local/tables';
import { Breaker } from '../src/runtime/breaker/breaker';
import { OutputGuard } from '../src/runtime/breaker/output-guard';
import { OutputWindows } from '../src/runtime/breaker/output-window';
import { ManualClock } from '../src/runtime/clock';
import { MemorySteward } from '../src/runtime/memory/steward';
import { messageGroupId } from '../src/runtime/memory/update';
import { contextLine, runContextBench } from './context/run';
import { generateWorkload, parseWorkload } from './context/workload';

const N = Number(process.env.BENCH_N ?? 300);

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { workload: { type: 'string' }, seed: { type: 'string', default: '1' } },
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
  if (!values.workload) return generateWorkload(seed);
  try {
    return parseWorkload(JSON.parse(readFileSync(values.workload, 'utf8')) as unknown, values.workload);
  } catch (error) {
    console.error(error instanceof SyntaxError ? `${values.workload}: not JSON: ${error.message}` : (error as Error).message);
    process.exit(2);
  }
})();

const time = async (fn: () => Promise<unknown>) => {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
};

const dynamo = await startDynamoDbLocal();
try {
  if (only !== 'context') await speed();
  const source = values.workload ?? `generated workload, seed ${seed}`;
  console.log(`retrieval on ${source}: ${workload.items.length} items, ${workload.tasks.length} tasks`);
  const figures = await runContextBench(workload, dynamo.endpoint);
  if (figures.refused.length > 0) {
    console.log(`  ${figures.refused.length} item(s) refused by the write path, counted as not returned:`);
    for (const line of figures.refused.slice(0, 10)) console.log(`    ${line}`);
  }
  for (const miss of figures.worst.slice(0, 5)) console.log(`  ${miss.task} missed ${miss.missed.join(', ')}`);
  console.log(contextLine(figures));
} finally {
  await dynamo.stop();
}

async function speed() {
  const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const names = await createTables(raw, `bench-${randomUUID().slice(0, 8)}`);
  const clock = new ManualClock(Date.UTC(2026, 10, 25));
  const rows: [string, string, string, string][] = [];

  const day = await time(() => simulate({ pipeline: reference, scenario: 'normal', hours: 24, dynamoEndpoint: dynamo.endpoint, tablePrefix: `bench-day-${randomUUID().slice(0, 8)}` }));
  rows.push(['simulated day (normal)', `${day.toFixed(1)} s`, '86400 s (real time)', `${Math.round(86_400 / day)}x faster`]);

  // Warm up the connection so the first timing does not pay for it.
  for (let i = 0; i < 20; i++) await client.send(new PutCommand({ TableName: names.memory, Item: { pk: 'warm', sk: String(i) } }));

  const puts = await time(async () => {
    for (let i = 0; i < N; i++) await client.send(new PutCommand({ TableName: names.memory, Item: { pk: 'baseline', sk: String(i), value: i } }));
  });
  const steward = new MemorySteward({ client, tableName: names.memory, clock });
  const applies = await time(async () => {
    for (let i = 0; i < N; i++) {
      const update = { idempotencyId: `b-${i}`, agentId: 'bench', runId: 'bench', namespace: 'bench', key: `k${i % 20}`, op: 'put' as const, value: { i } };
      await steward.handle({
        messageId: `m${i}`,
        body: JSON.stringify(update),
        messageGroupId: messageGroupId('bench', `k${i % 20}`),
        sequenceNumber: String(1_000_000 + i),
        sentAt: clock.now(),
        receiveCount: 1,
      });
    }
  });
  rows.push([`steward apply x${N}`, `${applies.toFixed(2)} s`, `${puts.toFixed(2)} s (bare PutItem)`, `${(applies / puts).toFixed(2)}x`]);

  const updates = await time(async () => {
    for (let i = 0; i < N; i++) {
      await client.send(new UpdateCommand({ TableName: names.counters, Key: { pk: 'baseline', sk: 'c' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
    }
  });
  const breaker = new Breaker({
    client,
    tableName: names.counters,
    clock,
    alerts: { publish: async () => undefined },
    schedules: { enabled: async () => [], enable: async () => undefined, disable: async () => undefined },
    pipelineLabel: 'bench',
    resetCommand: 'n/a',
  });
  const outputs = new OutputGuard({ breaker, windows: new OutputWindows({ client, tableName: names.counters, clock }), pipelineLimit: { maxOutputs: 1e9, windowMinutes: 60 } });
  const spec = { ...agentSpec(reference, 'writer'), breaker: { maxOutputs: 1e9, windowMinutes: 60 } };
  const emits = await time(async () => {
    for (let i = 0; i < N; i++) {
      await outputs.emit(spec, 'bench', `o${i}`, { i });
      if (i % 10 === 0) await clock.advance(60_000);
    }
  });
  rows.push([`breaker emit x${N}`, `${emits.toFixed(2)} s`, `${updates.toFixed(2)} s (bare UpdateItem)`, `${(emits / updates).toFixed(2)}x`]);

  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['measure', 'time', 'baseline', 'ratio'], ...rows].map((r) => r[i]!.length)));
  for (const row of [['measure', 'time', 'baseline', 'ratio'], ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}
