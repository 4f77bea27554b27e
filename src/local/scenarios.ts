import type { AgentContext } from '../runtime/guard';
import type { SimulationResult } from './recorder';

/**
 * What each local scenario does to the reference pipeline, and what "the guardrails held" means for it.
 */
export type ScenarioName = 'normal' | 'crash' | '3am';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Hooks a scenario uses to bend the run. */
export interface ScenarioControl {
  /**
   * Replaces an agent's work for the run that fires at `hhmm` (UTC; `*` for every run). With `crash`, the process
   * dies right after the work: it never returns and its lease renewals and heartbeats stop.
   */
  overrideRun(agentId: string, hhmm: string, work: (ctx: AgentContext) => Promise<unknown>, options?: { crash?: boolean }): void;
  /** Invokes an agent with this work at `hhmm` (UTC) of the first day, outside its schedule. */
  invokeAt(agentId: string, hhmm: string, work: (ctx: AgentContext) => Promise<unknown>): void;
  /** Invokes an agent now, outside its schedule (what a looping scheduler agent does). */
  invokeNow(agentId: string): Promise<void>;
  /** Re-delivers a slot later, as Lambda's async retry does after a crashed run. */
  redeliverAt(agentId: string, slotHhmm: string, atHhmm: string): void;
  /** Advances the simulated clock inside a run. */
  advance(ms: number): Promise<void>;
  /** The reference work of an agent. */
  reference(agentId: string): (ctx: AgentContext) => Promise<unknown>;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  setup(control: ScenarioControl): void;
  check(result: SimulationResult): Check[];
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

const noDeadLetters = (r: SimulationResult) =>
  check('no update dead-lettered or rejected', r.memory.deadLetters === 0 && r.memory.rejected === 0, `${r.memory.deadLetters} dead-lettered, ${r.memory.rejected} rejected`);

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  normal: {
    name: 'normal',
    description: 'A calm day: every schedule fires, every agent runs once per slot.',
    setup: () => undefined,
    check: (r) => [
      check('every scheduled slot ran', r.totals.completed === r.totals.slots, `${r.totals.completed} of ${r.totals.slots} slots completed`),
      check('no alert', r.alerts.length === 0, `${r.alerts.length} alerts`),
      check('no degraded run', r.totals.degraded === 0, `${r.totals.degraded} degraded runs`),
      noDeadLetters(r),
      check('every submitted update was applied', r.memory.applied === r.memory.submitted, `${r.memory.applied} applied of ${r.memory.submitted} submitted`),
    ],
  },

  '3am': {
    name: '3am',
    description:
      "The field report's meltdown: at 03:00 the planner loops on bad retry logic and re-triggers the writer, which " +
      'feeds the SEO agent, which feeds the community agent posting the same message.',
    setup(control) {
      const cascade = (agentId: string, next: readonly string[]) => async (ctx: AgentContext) => {
        const emit = ctx.emit.bind(ctx);
        const chained: AgentContext = Object.create(ctx, {
          emit: {
            value: (payload: unknown, publish?: Parameters<AgentContext['emit']>[1]) =>
              emit(payload, async (output) => {
                await publish?.(output);
                for (const id of next) await control.invokeNow(id);
              }),
          },
        });
        return control.reference(agentId)(chained);
      };
      control.invokeAt('planner', '03:00', async (ctx) => {
        for (let retry = 1; retry <= 47; retry++) {
          await control.advance(10_000); // the loop ran for about 8 minutes
          // Bad retry logic asks the model again each time: every call is metered like any other.
          await ctx.model.converse({ system: 'You plan a small engineering blog.', task: `Plan the 3am slot again (retry ${retry}).`, maxTokens: 120 });
          await ctx.emit({ kind: 'plan', topic: 'production patterns at 3am', retry }, async () => {
            await control.invokeNow('writer');
          });
        }
      });
      control.overrideRun('writer', '*', cascade('writer', ['seo']));
      control.overrideRun('seo', '*', cascade('seo', ['community']));
    },
    check: (r) => {
      const community = r.agents.community;
      const limit = r.limits.community ?? 0;
      return [
        check('exactly one alert', r.alerts.length === 1, `${r.alerts.length} alerts`),
        check(`community posts published ≤ N (${limit})`, (community?.published ?? 0) <= limit, `${community?.published ?? 0} published`),
        check('duplicate posts published: 0', r.duplicatePostsPublished === 0, `${r.duplicatePostsPublished} duplicates published, ${r.totals.suppressed} suppressed`),
        check('breaker is OPEN at the end', r.breaker === 'OPEN', r.breaker),
      ];
    },
  },

  crash: {
    name: 'crash',
    description:
      "The writer's 14:15 run dies mid-run holding its lock after queueing its memory updates. The SEO agent at 14:45 " +
      'finds its heartbeat stale and runs degraded; the slot is redelivered at 14:55 and takes the expired lease over.',
    setup(control) {
      control.overrideRun(
        'writer',
        '14:15',
        (ctx) => control.reference('writer')(ctx), // queues its draft; then the process dies
        { crash: true },
      );
      control.redeliverAt('writer', '14:15', '14:55');
    },
    check: (r) => [
      check('downstream ran degraded', (r.agents.seo?.degraded ?? 0) >= 1, `seo degraded runs: ${r.agents.seo?.degraded ?? 0}`),
      check('the expired lease was taken over', r.takeovers === 1, `${r.takeovers} takeovers`),
      noDeadLetters(r),
      check('no lost update: every queued update was applied or recognised', r.memory.applied + r.memory.duplicates === r.memory.submitted, `${r.memory.applied} applied + ${r.memory.duplicates} duplicates of ${r.memory.submitted} submitted`),
      check('no doubled update: the draft index lists each draft once', r.draftIndexDuplicates === 0, `${r.draftIndexDuplicates} repeated entries`),
      check('no alert', r.alerts.length === 0, `${r.alerts.length} alerts`),
    ],
  },
};
