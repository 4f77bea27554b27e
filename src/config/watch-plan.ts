import type { PipelineConfig } from './pipeline.ts';
import { longestGapMs } from './schedule-times.ts';
import type { WatchSpec } from './watch-spec.ts';

/** The watch spec of a pipeline (apart from the schema, which functions load: this reads the cron schedules). */

const MINUTE = 60_000;

/** The grace after an agent's longest gap before silence pages: its lease, at least 15 minutes. */
export function silenceGraceMs(agent: PipelineConfig['agents'][number]): number {
  return Math.max(15 * MINUTE, agent.lock.leaseMinutes * MINUTE);
}

export function watchSpec(pipeline: PipelineConfig, label = `${pipeline.name} (${pipeline.stage})`): WatchSpec {
  return {
    label,
    // An agent that runs only on triggers has no cadence to miss: it is never paged as silent (its failed runs and
    // its trigger dead-letters are, and its upstream's silence is, when that one has schedules).
    agents: pipeline.agents.map((agent) => (agent.schedules.length === 0 ? { id: agent.id } : { id: agent.id, silentAfterMs: longestGapMs(agent.schedules) + silenceGraceMs(agent) })),
    maxUpdateAgeMs: 15 * MINUTE,
  };
}
