import * as z from 'zod';
import { findCycle } from './graph.ts';
import { DEFAULT_MEMORY_WAIT_SECONDS, OUTPUT_DETAIL_TYPE, RESERVED_SOURCE_PREFIX, type TriggerConfig, matchesTrigger, outputSource, triggeredBy } from './trigger-routes.ts';

export { OUTPUT_DETAIL_TYPE, RESERVED_SOURCE_PREFIX, matchesTrigger, outputSource, triggeredBy };

/**
 * What runs an agent besides its schedules: another agent's published outputs, or outside events on EventBridge.
 *
 * - `{ outputsOf: 'writer' }`: once for each output the writer publishes (after the breaker admitted it), with the
 *   output as the run's input (`ctx.invocation.trigger`).
 * - `{ event: { source: ['tickets'], detailType: ['Ticket opened'] } }`: once for each matching event on the
 *   pipeline's bus (`bus: 'default'`: the account's default bus).
 *
 * Either way the run's task id comes from the event's id, so however often EventBridge delivers an event, the agent
 * runs for it once.
 */

const patternValue = z.string().min(1).max(256);


export const triggerSchema = z.union([
  z.strictObject({
    /** Runs the agent once per output this agent publishes. */
    outputsOf: z.string().min(1),
    /**
     * How long a run waits, before its work starts, for the steward to settle the memory updates the upstream's run
     * queued before this output. Past it, the run goes ahead degraded, saying how many are pending. 0: no wait (a
     * pending update degrades the run at once). Below half the agent's lease.
     */
    waitForMemorySeconds: z.number().int().min(0).max(900).default(DEFAULT_MEMORY_WAIT_SECONDS),
  }),
  z.strictObject({
    event: z.strictObject({
      /** The events' `source` values (one of them must match). */
      source: z
        .array(patternValue.refine((s) => !s.startsWith(RESERVED_SOURCE_PREFIX), { message: `sources starting with '${RESERVED_SOURCE_PREFIX}' are Nightshift's own: trigger on an agent's outputs with { outputsOf: '<agent>' }` }))
        .min(1, 'name at least one source'),
      /** The events' `detail-type` values. @default - any */
      detailType: z.array(patternValue).min(1).optional(),
      /** Which bus the events arrive on. @default 'pipeline' (the pipeline's own bus) */
      bus: z.enum(['pipeline', 'default']).default('pipeline'),
      /**
       * Runs this trigger starts in any hour, at most: an outside sender (or a loop on the default bus) cannot run the
       * agent without limit. An event past it is recorded as a skipped run (`rate-limited`) and not retried. @default 60
       */
      maxPerHour: z.number().int().min(1).max(100_000).default(60),
    }),
  }),
]);

export type { TriggerConfig } from './trigger-routes.ts';

type Agent = { readonly id: string; readonly schedules: readonly unknown[]; readonly triggers: readonly TriggerConfig[]; readonly lock?: { readonly leaseMinutes: number } };

/** Problems of the agents' triggers: unknown or own agents, repeats, an agent that nothing runs, cycles. */
export function triggerIssues(agents: readonly Agent[]): { path: (string | number)[]; message: string }[] {
  const ids = new Set(agents.map((a) => a.id));
  const issues: { path: (string | number)[]; message: string }[] = [];
  agents.forEach((agent, i) => {
    if (agent.schedules.length === 0 && agent.triggers.length === 0) {
      issues.push({ path: ['agents', i, 'schedules'], message: `'${agent.id}' has neither schedules nor triggers: nothing would ever run it` });
    }
    const seen = new Set<string>();
    agent.triggers.forEach((trigger, j) => {
      const key = JSON.stringify(trigger);
      if (seen.has(key)) issues.push({ path: ['agents', i, 'triggers', j], message: `'${agent.id}' lists this trigger twice` });
      seen.add(key);
      if (!('outputsOf' in trigger)) return;
      const wait = trigger.waitForMemorySeconds ?? DEFAULT_MEMORY_WAIT_SECONDS;
      if (agent.lock && wait * 2 > agent.lock.leaseMinutes * 60) {
        issues.push({
          path: ['agents', i, 'triggers', j, 'waitForMemorySeconds'],
          message: `'${agent.id}' would wait ${wait} s for memory, more than half its ${agent.lock.leaseMinutes}-minute lease: lower it or raise lock.leaseMinutes`,
        });
      }
      if (trigger.outputsOf === agent.id) {
        issues.push({ path: ['agents', i, 'triggers', j, 'outputsOf'], message: `'${agent.id}' cannot run on its own outputs: each run would trigger the next` });
      } else if (!ids.has(trigger.outputsOf)) {
        issues.push({ path: ['agents', i, 'triggers', j, 'outputsOf'], message: `unknown agent id '${trigger.outputsOf}' (agents: ${[...ids].join(', ')})` });
      }
    });
  });
  const cycle = triggerCycle(agents);
  if (cycle) {
    const at = agents.findIndex((a) => a.id === cycle[1]);
    issues.push({ path: ['agents', at, 'triggers'], message: `trigger cycle ${cycle.join(' → ')}: each output would run the next agent for ever` });
  }
  return issues;
}

/** One cycle of "outputs of A run B" as agent ids in trigger order (first repeated at the end), or undefined. */
function triggerCycle(agents: readonly Agent[]): string[] | undefined {
  const ids = new Set(agents.map((a) => a.id));
  // Self-triggers and unknown agents are reported on their own.
  return findCycle([...ids], (id) => triggeredBy(agents, id).filter((next) => next !== id && ids.has(next)));
}
