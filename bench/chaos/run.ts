/**
 * `npm run chaos -- --seed <n> --runs <r>`: seeded fault injection on the local stack (DynamoDB Local), a table of
 * what was injected and of each invariant, and a non-zero exit on any violation.
 */
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../../local/dynamodb-local.ts';
import { chaos, chaosTable } from './chaos.ts';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, runs: { type: 'string', default: '20' } } });
const seed = Number(values.seed);
const runs = Number(values.runs);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`--seed must be a whole number ≥ 0, got '${values.seed}'`);
  process.exit(2);
}
if (!Number.isInteger(runs) || runs < 1 || runs > 1000) {
  console.error(`--runs must be a whole number from 1 to 1000, got '${values.runs}'`);
  process.exit(2);
}
const dynamo = await startDynamoDbLocal();
try {
  const started = performance.now();
  const tally = await chaos(dynamo.endpoint, seed, runs);
  console.log(chaosTable(seed, runs, tally));
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
  process.exitCode = Object.values(tally.violations).some((n) => n > 0) ? 1 : 0;
} finally {
  await dynamo.stop();
}
