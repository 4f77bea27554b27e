import type { PipelineConfig } from '../src/config/pipeline.ts';
import { faultChecks } from './fault-checks.ts';
import { type Fault, parseFaults } from './faults.ts';
import { memoryWaitChecks, triggerChecks } from './trigger-checks.ts';
import { type Check, type ScenarioName, type SimulationResult, check, notExercised } from './result.ts';

export type { Check, ScenarioName } from './result.ts';

/**
 * Scenario presets: fault sets like any other (`--inject`), plus, for the field report's stories on the reference
 * pipeline, a check or two of their own. A run's checks are the preset's and those derived from its faults.
 */

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** The preset's faults, as `--inject` flags. */
  readonly faults: readonly string[];
  /** Checks beyond those the faults imply. */
  check(result: SimulationResult): Check[];
}


export const SCENARIOS: Record<ScenarioName, Scenario> = {
  normal: {
    name: 'normal',
    description: 'A calm day: every schedule fires, every agent runs once per slot.',
    faults: [],
    check: (r) =>
      r.faults.length > 0
        ? [] // injected faults bring their own checks
        : [
            check('every scheduled slot ran', r.totals.completed - r.totals.triggered === r.totals.slots, `${r.totals.completed - r.totals.triggered} of ${r.totals.slots} slots completed`),
            check('no alert', r.alerts.length === 0, `${r.alerts.length} alerts`),
            check('no degraded run', r.totals.degraded === 0, `${r.totals.degraded} degraded runs`),
            check('no update dead-lettered or rejected', r.memory.deadLetters === 0 && r.memory.rejected === 0, `${r.memory.deadLetters} dead-lettered, ${r.memory.rejected} rejected`),
            check('every submitted update was applied', r.memory.applied === r.memory.submitted, `${r.memory.applied} applied of ${r.memory.submitted} submitted`),
          ],
  },

  '3am': {
    name: '3am',
    description:
      "The field report's meltdown: at 03:00 the planner loops on bad retry logic and re-triggers the writer, which " +
      'feeds the SEO agent, which feeds the community agent posting the same message.',
    faults: ['loop:planner@03:00'],
    check: (r) => {
      const name = 'duplicate posts published: 0';
      const posts = r.agents.community?.published ?? 0;
      return [
        posts === 0 && r.totals.suppressed === 0
          ? notExercised(name, 'the cascade never reached the community agent: nothing was posted or suppressed', true)
          : check(name, r.duplicatePostsPublished === 0, `${r.duplicatePostsPublished} duplicates published, ${r.totals.suppressed} suppressed`),
      ];
    },
  },

  crash: {
    name: 'crash',
    description:
      "The writer's 14:15 run dies mid-run holding its lock after queueing its memory updates. The SEO agent at 14:45 " +
      'finds its heartbeat stale and runs degraded; the slot is delivered again and takes the expired lease over.',
    faults: ['crash:writer@14:15'],
    check: (r) => [check('no doubled update: the draft index lists each draft once', r.draftIndexDuplicates === 0, `${r.draftIndexDuplicates} repeated entries`)],
  },
};

/** The faults of a run: the preset's, then the injected ones. Throws `FaultError` naming each bad flag. */
export function runFaults(scenario: ScenarioName, injected: readonly string[], pipeline: PipelineConfig, start: number): Fault[] {
  return parseFaults([...SCENARIOS[scenario].faults, ...injected], pipeline, start);
}

/** Every check of a finished run. */
export function runChecks(scenario: ScenarioName, pipeline: PipelineConfig, faults: readonly Fault[], result: SimulationResult, resumed = false): Check[] {
  if (resumed && faults.length === 0) return recoveryChecks(result);
  return [
    ...faultChecks(pipeline, faults, result),
    ...SCENARIOS[scenario].check(result),
    ...(faults.length === 0 ? triggerChecks(pipeline, result) : []),
    ...memoryWaitChecks(pipeline, faults, result),
  ];
}

/**
 * What a resumed run (after an operator's action, e.g. `breaker reset --local`) must show: the pipeline recovered.
 * Runs right after a failure may be degraded: that is the guard doing its job, not a failed check.
 */
function recoveryChecks(r: SimulationResult): Check[] {
  return [
    check('every scheduled slot ran', r.totals.completed - r.totals.triggered === r.totals.slots, `${r.totals.completed - r.totals.triggered} of ${r.totals.slots} slots completed`),
    check('no alert', r.alerts.length === 0, `${r.alerts.length} alerts`),
    check('the breaker is CLOSED', r.breaker === 'CLOSED', `breaker ${r.breaker}`),
    check('every schedule is enabled', Object.values(r.schedules).every(Boolean), `${Object.values(r.schedules).filter((on) => !on).length} disabled`),
    check('every submitted update was applied', r.memory.applied === r.memory.submitted, `${r.memory.applied} applied of ${r.memory.submitted} submitted`),
  ];
}
