import type { PipelineConfig } from '../src/config/pipeline.ts';
import { triggeredBy } from '../src/config/triggers.ts';
import type { Fault } from './faults.ts';
import { type Check, type SimulationResult, check, notExercised } from './result.ts';

/**
 * What a run with no fault must show of its triggers: every output an agent published ran each agent that triggers
 * on its outputs exactly once (a run for that output, however it ended; a redelivery skipped), and nothing ran twice
 * for one output. Not exercised when no agent published to anyone.
 */
export function triggerChecks(pipeline: PipelineConfig, r: SimulationResult): Check[] {
  const routes = pipeline.agents.flatMap((a) => triggeredBy(pipeline.agents, a.id).map((to) => ({ from: a.id, to })));
  if (routes.length === 0) return [];
  const name = 'each output ran every agent triggered by it exactly once';
  // Every run an output started counts, however it ended (a failed run ran); a redelivery skipped did not run.
  const runsFor = new Map<string, number>();
  let failed = 0;
  for (const run of r.runs) {
    if (run.trigger?.kind === 'output' && run.status !== 'skipped') {
      const key = `${run.agentId} ${run.trigger.outputId}`;
      runsFor.set(key, (runsFor.get(key) ?? 0) + 1);
      if (run.status !== 'completed') failed++;
    }
  }
  const expected = r.published.flatMap((p) => routes.filter((route) => route.from === p.agentId).map((route) => ({ ...route, outputId: p.outputId })));
  if (expected.length === 0) return [notExercised(name, 'no agent that others trigger on published anything', false)];
  const wrong = expected.filter((e) => runsFor.get(`${e.to} ${e.outputId}`) !== 1);
  const extra = [...runsFor.keys()].filter((key) => !expected.some((e) => `${e.to} ${e.outputId}` === key));
  return [
    check(
      name,
      wrong.length === 0 && extra.length === 0,
      wrong.length + extra.length === 0
        ? `${expected.length} triggered runs for ${new Set(expected.map((e) => e.outputId)).size} outputs${failed ? `, ${failed} of which failed or halted (see the failed runs)` : ''}`
        : [...wrong.map((e) => `${e.to} ran ${runsFor.get(`${e.to} ${e.outputId}`) ?? 0} times for ${e.from}'s output ${e.outputId}`), ...extra.map((k) => `unexpected run ${k}`)].slice(0, 5).join('; '),
    ),
  ];
}

/**
 * Causality: a run started by an output read its upstream's memory as that run left it, or ran degraded saying so.
 * Every such run waited for the updates the upstream's run queued before the output; one with updates still
 * pending when its wait ended must be degraded. With a `stall:steward`, a run started during the stall must meet it.
 */
export function memoryWaitChecks(pipeline: PipelineConfig, faults: readonly Fault[], r: SimulationResult): Check[] {
  if (!pipeline.agents.some((a) => triggeredBy(pipeline.agents, a.id).length > 0)) return [];
  const waits = r.runs.filter((run) => run.memoryWait);
  const stale = waits.filter((run) => run.memoryWait!.pending > 0 && !run.degraded);
  const name = 'every run started by an output saw its upstream’s memory, or ran degraded saying so';
  const longest = Math.max(0, ...waits.map((run) => run.memoryWait!.waitedMs));
  const checks: Check[] = [
    waits.length === 0
      ? notExercised(name, 'no upstream queued memory updates before an output that started a run', false)
      : check(
          name,
          stale.length === 0,
          stale.length === 0
            ? `${waits.length} runs waited for their upstream's updates, the longest ${(longest / 1000).toFixed(1)} s; ${waits.filter((w) => w.memoryWait!.pending > 0).length} ran degraded with updates pending`
            : stale.slice(0, 3).map((run) => `${run.agentId} at ${new Date(run.at).toISOString().slice(11, 16)} read with ${run.memoryWait!.pending} of ${run.memoryWait!.from}'s updates pending, not degraded`).join('; '),
        ),
  ];
  for (const stall of faults.filter((f) => f.kind === 'stall')) {
    const during = waits.filter((run) => run.at >= stall.at && (stall.until === undefined || run.at - run.memoryWait!.waitedMs < stall.until) && run.memoryWait!.pending > 0);
    const stallName = `${stall.label}: runs started by outputs during the stall ran degraded, not on stale memory`;
    checks.push(
      during.length === 0
        ? notExercised(stallName, 'no run started by an output found its upstream’s updates still queued during the stall', false)
        : check(stallName, during.every((run) => run.degraded), `${during.length} run(s) degraded after waiting ${(Math.max(...during.map((run) => run.memoryWait!.waitedMs)) / 1000).toFixed(0)} s`),
    );
  }
  return checks;
}
