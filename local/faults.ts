import { Cron } from 'croner';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { triggeredBy } from '../src/config/triggers.ts';

import { NightshiftError } from '../src/errors.ts';

/**
 * Faults as data: what `nightshift local --inject <fault>` does to any agent of any pipeline, and the checks that
 * follow from the config and the fault (never from the reference pipeline's names).
 *
 * - `loop:<agent>@<HH:MM>`: from that time the agent is re-invoked again and again, as if its retry logic were
 *   broken; every run emits, and every output it publishes runs the agents whose triggers take its outputs (and
 *   theirs run theirs), as the field report's cascade did.
 * - `crash:<agent>@<HH:MM>`: the agent's first scheduled run at or after that time dies mid-work holding its lock:
 *   no release, no final heartbeat. Its slot is delivered again once the lease has expired, as a Scheduler retry is.
 * - `fail:<agent>@<HH:MM>`: the agent's first scheduled run at or after that time throws: the guard records a failed
 *   heartbeat and releases the lock; downstream agents run degraded until it next succeeds.
 *
 * - `silence:<agent>@<HH:MM>[-<HH:MM>]`: from that time (until the second, if given) nothing invokes the agent, neither
 *   its schedules nor its triggers, as a disabled or deleted schedule or a role that can no longer invoke would:
 *   nothing fails, the agent just does not run. The watch must page it, once, and resolve it when it runs again.
 *
 * - `stall:steward@<HH:MM>[-<HH:MM>]`: from that time (until the second) the memory steward takes nothing from its
 *   queue, as a throttled, failing or far-behind steward would; updates wait in the queue. Runs started by outputs
 *   meanwhile wait for their upstream's updates (`waitForMemorySeconds`) and then run degraded, saying so.
 *
 * Times are on the first simulated day, in UTC, or in the IANA zone given after them: `crash:writer@14:15[Europe/Berlin]`.
 */
export type FaultKind = 'loop' | 'crash' | 'fail' | 'silence' | 'stall';

export interface Fault {
  readonly kind: FaultKind;
  readonly agentId: string;
  /** Epoch ms the fault starts. */
  readonly at: number;
  /** Epoch ms a silence ends (the first time of day given after `at`); none: it lasts to the end of the run. */
  readonly until?: number;
  /** As written on the command line. */
  readonly label: string;
}

/** Every fault kind `--inject` takes (and `nightshift local --help` lists). */
export const FAULT_KINDS: readonly FaultKind[] = ['loop', 'crash', 'fail', 'silence', 'stall'];
const SYNTAX = /^(?<kind>[a-z]+):(?<agent>[a-z][a-z0-9-]*)@(?<hour>\d{1,2}):(?<minute>\d{2})(?:-(?<untilHour>\d{1,2}):(?<untilMinute>\d{2}))?(?:\[(?<zone>[^\]]+)\])?$/;

/** A fault that cannot be injected: says which flag and why. */
export class FaultError extends NightshiftError {
  override readonly name = 'FaultError';
}

/** Reads `--inject` flags against the pipeline; every problem at once. */
export function parseFaults(flags: readonly string[], pipeline: PipelineConfig, start: number): Fault[] {
  const problems: string[] = [];
  const faults = flags.flatMap((flag): Fault[] => {
    const match = SYNTAX.exec(flag.trim());
    if (!match?.groups) {
      problems.push(`--inject '${flag}': expected <kind>:<agent>@<HH:MM>, e.g. loop:planner@03:00 or crash:writer@14:15[Europe/Berlin]`);
      return [];
    }
    const { kind, agent, hour, minute, untilHour, untilMinute, zone = 'UTC' } = match.groups as Record<string, string | undefined> & Record<'kind' | 'agent' | 'hour' | 'minute', string>;
    const issues: string[] = [];
    if (!FAULT_KINDS.includes(kind as FaultKind)) issues.push(`'${kind}' is not a fault; use one of ${FAULT_KINDS.join(', ')}`);
    if (kind === 'stall') {
      if (agent !== 'steward') issues.push(`a stall stops the memory steward, not an agent: write stall:steward@${hour}:${minute}-<HH:MM>`);
    } else if (!pipeline.agents.some((a) => a.id === agent)) {
      issues.push(`no agent '${agent}' in pipeline '${pipeline.name}' (agents: ${pipeline.agents.map((a) => a.id).join(', ')})`);
    }
    if (Number(hour) > 23 || Number(minute) > 59) issues.push(`${hour}:${minute} is not a time of day`);
    if (untilHour !== undefined && kind !== 'silence' && kind !== 'stall') issues.push(`only a silence or a stall takes an end time (${kind}:${agent}@${hour}:${minute})`);
    if (untilHour !== undefined && (Number(untilHour) > 23 || Number(untilMinute) > 59)) issues.push(`${untilHour}:${untilMinute} is not a time of day`);
    if (untilHour !== undefined && untilHour.padStart(2, '0') === hour.padStart(2, '0') && untilMinute === minute) issues.push(`the silence ends when it starts (${hour}:${minute})`);
    let at: number | undefined;
    let until: number | undefined;
    if (issues.length === 0) {
      try {
        const next = (h: string, m: string, after: number) => new Cron(`${Number(m)} ${Number(h)} * * *`, { timezone: zone, paused: true }).nextRun(new Date(after))!.getTime();
        at = next(hour, minute, start - 1);
        // The end is the first such time after the start: 22:00-02:00 spans midnight.
        if (untilHour !== undefined) until = next(untilHour, untilMinute!, at);
      } catch {
        issues.push(`'${zone}' is not an IANA time zone`);
      }
    }
    if (issues.length > 0 || at === undefined) {
      problems.push(`--inject '${flag}': ${issues.join('; ')}`);
      return [];
    }
    return [{ kind: kind as FaultKind, agentId: agent, at, ...(until === undefined ? {} : { until }), label: flag.trim() }];
  });
  if (problems.length > 0) throw new FaultError(problems.join('\n'));
  return faults;
}

/** Every agent `agentId`'s outputs run, directly or through others' outputs (its cascade), in config order. */
export function downstreamOf(pipeline: PipelineConfig, agentId: string): string[] {
  const found = new Set<string>();
  const visit = (id: string) => {
    for (const next of triggeredBy(pipeline.agents, id)) {
      if (!found.has(next)) {
        found.add(next);
        visit(next);
      }
    }
  };
  visit(agentId);
  return pipeline.agents.map((a) => a.id).filter((id) => found.has(id));
}

/**
 * When a crashed slot is delivered again: once its lease has expired and the agent has been stale for a full stale
 * period, so downstream runs in between meet the stale heartbeat.
 */
export function redeliveryAt(agent: PipelineConfig['agents'][number], slot: number): number {
  return slot + (agent.lock.leaseMinutes + agent.heartbeat.staleAfterMinutes) * 60_000;
}

/**
 * The most of `times` (epoch ms) inside any window of `windowMinutes`, counted as the breaker counts: in one-minute
 * buckets, a window being a minute and the `windowMinutes - 1` before it.
 */
export function busiestWindow(times: readonly number[], windowMinutes: number): number {
  const perMinute = new Map<number, number>();
  for (const t of times) perMinute.set(Math.floor(t / 60_000), (perMinute.get(Math.floor(t / 60_000)) ?? 0) + 1);
  let most = 0;
  for (const minute of perMinute.keys()) {
    let count = 0;
    for (let m = minute - windowMinutes + 1; m <= minute; m++) count += perMinute.get(m) ?? 0;
    most = Math.max(most, count);
  }
  return most;
}
