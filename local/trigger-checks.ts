import type { PipelineConfig } from '../src/config/pipeline.ts';
import { triggeredBy } from '../src/config/triggers.ts';
import { type Check, type SimulationResult, check, notExercised } from './result.ts';

/**
 * What a run with no fault must show of its triggers: every output an agent published ran each agent that triggers
 * on its outputs exactly once (a completed run for that output; a redelivery skipped), and nothing ran twice for one
 * output. Not exercised when no agent published to anyone.
 */
export function triggerChecks(pipeline: PipelineConfig, r: SimulationResult): Check[] {
  const routes = pipeline.agents.flatMap((a) => triggeredBy(pipeline.agents, a.id).map((to) => ({ from: a.id, to })));
  if (routes.length === 0) return [];
  const name = 'each output ran every agent triggered by it exactly once';
  const runsFor = new Map<string, number>();
  for (const run of r.runs) {
    if (run.trigger?.kind === 'output' && run.status === 'completed') {
      const key = `${run.agentId} ${run.trigger.outputId}`;
      runsFor.set(key, (runsFor.get(key) ?? 0) + 1);
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
        ? `${expected.length} triggered runs for ${new Set(expected.map((e) => e.outputId)).size} outputs`
        : [...wrong.map((e) => `${e.to} ran ${runsFor.get(`${e.to} ${e.outputId}`) ?? 0} times for ${e.from}'s output ${e.outputId}`), ...extra.map((k) => `unexpected run ${k}`)].slice(0, 5).join('; '),
    ),
  ];
}
