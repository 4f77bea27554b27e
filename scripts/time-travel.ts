/**
 * The runs that must hold at any date, in one process and on one DynamoDB Local: the calm day, the 3am and crash
 * scenarios on the reference pipeline, and a short chaos seed. Meant to be run with the machine's clock moved far
 * from the simulated dates (Debian's faketime shifts Node and DynamoDB Local's JVM alike):
 *
 *   faketime -f +500d node --import tsx scripts/time-travel.ts
 *
 * Prints one JSON line: the clock this process saw, each run's failed checks, chaos's violations. Exits 0 when
 * every run held.
 */
import { chaos } from '../bench/chaos/chaos.ts';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
import { SIMULATION_START, simulate } from '../local/runner.ts';
import type { ScenarioName } from '../local/scenarios.ts';
import { loadPipeline } from '../src/config/load.ts';

const pipeline = await loadPipeline('nightshift.config.ts');
const dynamo = await startDynamoDbLocal();
try {
  const runs: { scenario: ScenarioName; passed: boolean; failed: string[] }[] = [];
  for (const scenario of ['normal', '3am', 'crash'] as const) {
    const result = await simulate({ pipeline, scenario, hours: 24, dynamoEndpoint: dynamo.endpoint, tablePrefix: `time-travel-${scenario}` });
    runs.push({ scenario, passed: result.passed, failed: result.checks.filter((c) => !c.ok).map((c) => `${c.name} (${c.detail})`) });
  }
  const tally = await chaos(dynamo.endpoint, 1, 1, 200);
  const violations = Object.fromEntries(Object.entries(tally.violations).filter(([, n]) => n > 0));
  const passed = runs.every((r) => r.passed) && Object.keys(violations).length === 0;
  process.stdout.write(`${JSON.stringify({ clock: new Date().toISOString(), simulatedStart: SIMULATION_START.toISOString(), runs, chaos: { violations, details: tally.details }, passed })}\n`);
  process.exitCode = passed ? 0 : 1;
} finally {
  await dynamo.stop();
}
