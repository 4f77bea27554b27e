/**
 * `npm run smoke:localstack`: against a stack deployed to LocalStack with `npm run deploy:localstack`, invokes each
 * agent by hand (LocalStack's EventBridge Scheduler does not fire schedules) in dependency order, and checks each
 * run's outcome and the pipeline's status afterwards.
 *
 * It runs only when LOCALSTACK_ENDPOINT is set (e.g. http://localhost:4566). Otherwise it says it did not run and
 * exits 77, the conventional "skipped" code: a run that did not happen never counts as passed.
 */
import reference from '../nightshift.config.ts';
import { invokeDeployed } from '../cli/invoke.ts';
import { status } from '../cli/ops.ts';
import { deployedTarget } from '../cli/target.ts';
import { loadPipeline } from '../src/config/load.ts';

const NOT_RUN = 77;
const endpoint = process.env.LOCALSTACK_ENDPOINT;
if (!endpoint) {
  console.log('LocalStack smoke suite NOT RUN: set LOCALSTACK_ENDPOINT (e.g. http://localhost:4566) after `npm run deploy:localstack`.');
  process.exit(NOT_RUN);
}
// Every AWS SDK client of this process talks to LocalStack.
process.env.AWS_ENDPOINT_URL = endpoint;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

const pipeline = process.env.NIGHTSHIFT_CONFIG ? await loadPipeline(process.env.NIGHTSHIFT_CONFIG) : reference;
const failures: string[] = [];
const at = Date.now();
for (const agent of pipeline.agents) {
  // One slot per agent, a minute apart: each downstream agent runs right after its upstream, on a fresh heartbeat.
  const slot = new Date(at + pipeline.agents.indexOf(agent) * 60_000).toISOString();
  try {
    const { data, text } = await invokeDeployed(pipeline, pipeline.stage, agent.id, slot);
    const outcome = data as { status: string; degraded?: unknown };
    const ok = outcome.status === 'completed';
    console.log(`${ok ? 'PASS' : 'FAIL'}  ${agent.id}: ${text.split('\n').join('; ')}`);
    if (!ok) failures.push(`${agent.id} ended ${outcome.status}`);
  } catch (error) {
    console.log(`FAIL  ${agent.id}: ${(error as Error).message}`);
    failures.push(agent.id);
  }
}
const target = await deployedTarget(pipeline, pipeline.stage);
const { data } = await status(target);
const breaker = (data as { breaker: { status: string } }).breaker.status;
console.log(`${breaker === 'CLOSED' ? 'PASS' : 'FAIL'}  breaker ${breaker} after one run of each agent`);
if (breaker !== 'CLOSED') failures.push(`breaker ${breaker}`);
console.log(failures.length ? `LocalStack smoke suite FAILED: ${failures.join(', ')}` : 'LocalStack smoke suite passed.');
process.exit(failures.length ? 1 : 0);
