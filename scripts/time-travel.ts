/**
 * The runs that must hold at any date, in one process and on one DynamoDB Local: the calm day, the 3am and crash
 * scenarios on the reference pipeline, and a short chaos seed. Meant to be run with the machine's clock moved far
 * from the simulated dates (Debian's faketime shifts Node and DynamoDB Local's JVM alike):
 *
 *   faketime -f +500d node --import tsx scripts/time-travel.ts [--out runs.json]
 *
 * Prints one JSON line: the clock this process saw, each run's failed checks, chaos's violations. Exits 0 when
 * every run held. With `--out`, also writes each scenario's whole result and every AWS call each function made
 * (the test suite's reference runs, checked in detail by the runner's, cost and report tests).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chaos } from '../bench/chaos/chaos.ts';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
import { SIMULATION_START, type SimulationResult, simulate } from '../local/runner.ts';
import type { ScenarioName } from '../local/scenarios.ts';
import { loadPipeline } from '../src/config/load.ts';
import type { AwsCall } from '../src/runtime/aws-calls.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const pipeline = await loadPipeline('nightshift.config.ts');
const dynamo = await startDynamoDbLocal();
try {
  const runs: { scenario: ScenarioName; passed: boolean; failed: string[] }[] = [];
  const details: Record<string, { prefix: string; result: SimulationResult; calls: Record<string, readonly AwsCall[]> }> = {};
  for (const scenario of ['normal', '3am', 'crash'] as const) {
    const prefix = `time-travel-${scenario}`;
    let calls: Record<string, readonly AwsCall[]> = {};
    const result = await simulate({
      pipeline,
      scenario,
      hours: 24,
      dynamoEndpoint: dynamo.endpoint,
      tablePrefix: prefix,
      onFinished: async (finished) => void (calls = Object.fromEntries(finished.calls.byFunction())),
    });
    runs.push({ scenario, passed: result.passed, failed: result.checks.filter((c) => !c.ok).map((c) => `${c.name} (${c.detail})`) });
    details[scenario] = { prefix, result, calls };
  }
  const tally = await chaos(dynamo.endpoint, 1, 1, 200);
  const violations = Object.fromEntries(Object.entries(tally.violations).filter(([, n]) => n > 0));
  const passed = runs.every((r) => r.passed) && Object.keys(violations).length === 0;
  const summary = { clock: new Date().toISOString(), simulatedStart: SIMULATION_START.toISOString(), runs, chaos: { violations, details: tally.details }, passed };
  if (values.out) {
    // Written whole, then renamed: a reader never sees half a file.
    writeFileSync(`${values.out}.partial`, JSON.stringify({ ...summary, scenarios: details }));
    renameSync(`${values.out}.partial`, values.out);
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exitCode = passed ? 0 : 1;
} finally {
  await dynamo.stop();
}
