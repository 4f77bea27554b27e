/**
 * The events Nightshift puts on a pipeline's bus, and how a trigger matches an event: shared by the config, the
 * stack's rules, the agent's invocation parsing and local mode's bus (no schema library: agents load it at cold start).
 */

/** Event sources Nightshift writes itself: an outside trigger may not claim them (it would pose as an agent). */
export const RESERVED_SOURCE_PREFIX = 'nightshift.';

/** The source of the events an agent's published outputs become: what IAM lets that agent's role put, alone. */
export function outputSource(agentId: string): string {
  return `${RESERVED_SOURCE_PREFIX}agent.${agentId}`;
}

/** How long a run started by an output waits for its upstream's memory updates, unless its trigger says otherwise. */
export const DEFAULT_MEMORY_WAIT_SECONDS = 120;

/** The detail type of a published output's event. */
export const OUTPUT_DETAIL_TYPE = 'Output published';

/** A trigger as the validated config holds it. */
export type TriggerConfig =
  | {
      readonly outputsOf: string;
      /**
       * Runs it starts in any hour, at most (in an agent's spec: the most outputs the upstream's own breaker limit
       * lets it publish in an hour, so outputs put on the bus around the breaker cannot run it without limit).
       */
      readonly maxPerHour?: number | undefined;
      /** How long a run waits for the memory updates its upstream's run queued before the output. @default 120 */
      readonly waitForMemorySeconds?: number | undefined;
    }
  | {
      readonly event: {
        readonly source: readonly string[];
        readonly detailType?: readonly string[] | undefined;
        readonly bus: 'pipeline' | 'default';
        /** Runs it starts in any hour, at most. @default 60 */
        readonly maxPerHour?: number | undefined;
      };
    };

/** Whether an event on `bus` with `source` and `detailType` matches `trigger` (what its rule's pattern says). */
export function matchesTrigger(trigger: TriggerConfig, event: { readonly source: string; readonly detailType: string; readonly bus: 'pipeline' | 'default' }): boolean {
  if ('outputsOf' in trigger) return event.bus === 'pipeline' && event.source === outputSource(trigger.outputsOf) && event.detailType === OUTPUT_DETAIL_TYPE;
  return (
    event.bus === trigger.event.bus &&
    trigger.event.source.includes(event.source) &&
    (trigger.event.detailType === undefined || trigger.event.detailType.includes(event.detailType))
  );
}

/** The agents each agent's outputs trigger, in config order. */
export function triggeredBy(agents: readonly { readonly id: string; readonly triggers: readonly TriggerConfig[] }[], agentId: string): string[] {
  return agents.filter((a) => a.triggers.some((t) => 'outputsOf' in t && t.outputsOf === agentId)).map((a) => a.id);
}

