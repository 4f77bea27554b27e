import { Cron } from 'croner';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { type Check, type SimulationResult, check, notExercised } from './result.ts';
import { watchSpec } from '../src/config/watch-plan.ts';
import { triggeredBy } from '../src/config/triggers.ts';

export type { Check } from './result.ts';
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

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** What must hold after the run, derived from the pipeline's limits, its dependency graph and the faults. */
export function faultChecks(pipeline: PipelineConfig, faults: readonly Fault[], r: SimulationResult): Check[] {
  const checks: Check[] = [];
  const loops = faults.filter((f) => f.kind === 'loop');
  if (loops.length > 0) {
    const trip = r.alerts[0]?.at;
    const cooling = pipeline.breaker.coolDownMinutes !== undefined;
    if (cooling) {
      // A cooled-down breaker may close and trip again for a later loop: one alert per trip, at most one per loop.
      checks.push(check('loop: one alert per trip', r.alerts.length >= 1 && r.alerts.length <= loops.length, `${r.alerts.length} alerts for ${loops.length} loop(s)`));
    } else {
      checks.push(check('loop: exactly one alert', r.alerts.length === 1, `${r.alerts.length} alerts`));
    }
    for (const loop of loops) {
      // The looping agent and every agent its outputs cascade to.
      for (const id of [loop.agentId, ...downstreamOf(pipeline, loop.agentId)]) {
        const agent = pipeline.agents.find((a) => a.id === id)!;
        const since = r.published.filter((p) => p.agentId === id && p.at >= loop.at).map((p) => p.at);
        const busiest = busiestWindow(since, agent.breaker.windowMinutes);
        const name = `loop ${loop.agentId}: ${id === loop.agentId ? 'its' : `${id}'s`} outputs published since ${hhmm(loop.at)} ≤ ${id === loop.agentId ? 'its' : 'that agent’s'} N (${agent.breaker.maxOutputs} per ${agent.breaker.windowMinutes} min)`;
        checks.push(
          since.length === 0
            ? notExercised(
                name,
                id === loop.agentId ? `${id} published nothing after ${hhmm(loop.at)}: the loop never ran` : `the cascade never reached ${id}: it published nothing after ${hhmm(loop.at)}`,
                id === loop.agentId,
              )
            : check(name, busiest <= agent.breaker.maxOutputs, `at most ${busiest} in any ${agent.breaker.windowMinutes} min`),
        );
      }
    }
    const first = Math.min(...loops.map((l) => l.at));
    const pipelineBusiest = busiestWindow(r.published.filter((p) => p.at >= first).map((p) => p.at), pipeline.breaker.windowMinutes);
    checks.push(
      check(
        `loop: pipeline outputs published since ${hhmm(first)} ≤ the pipeline's N (${pipeline.breaker.maxOutputs} per ${pipeline.breaker.windowMinutes} min)`,
        pipelineBusiest <= pipeline.breaker.maxOutputs,
        `at most ${pipelineBusiest} in any ${pipeline.breaker.windowMinutes} min`,
      ),
    );
    if (cooling) {
      checks.push(check(`loop: the breaker opened (cool-down ${pipeline.breaker.coolDownMinutes} min lets a probe through later)`, trip !== undefined, trip ? `opened at ${hhmm(trip)}` : 'never opened'));
    } else {
      checks.push(check('loop: breaker OPEN at the end', r.breaker === 'OPEN', r.breaker));
      const enabled = Object.entries(r.schedules).filter(([, on]) => on).map(([name]) => name);
      checks.push(check('loop: every schedule disabled', enabled.length === 0, enabled.length ? `still enabled: ${enabled.join(', ')}` : `${Object.keys(r.schedules).length} disabled`));
      const later = trip === undefined ? [] : r.runs.filter((run) => run.at > trip);
      const after = later.filter((run) => run.status === 'completed');
      const name = 'loop: every run after the trip refused';
      checks.push(
        trip !== undefined && later.length === 0
          ? notExercised(name, `no run was attempted after the trip at ${hhmm(trip)}`, false)
          : check(
              name,
              trip !== undefined && after.length === 0,
              trip === undefined ? 'the breaker never tripped' : after.length ? `completed after the trip: ${after.map((a) => `${a.agentId}@${hhmm(a.at)}`).join(', ')}` : `${later.length} later runs, all refused`,
            ),
      );
    }
  }
  for (const fault of faults.filter((f) => f.kind === 'crash' || f.kind === 'fail')) {
    const agent = pipeline.agents.find((a) => a.id === fault.agentId)!;
    const hit = r.runs.find((run) => run.agentId === fault.agentId && run.status === fault.kind && run.at >= fault.at);
    if (!hit) {
      const haltedFirst = r.alerts.length > 0 && r.alerts[0]!.at <= fault.at && pipeline.breaker.coolDownMinutes === undefined;
      checks.push(
        notExercised(
          `${fault.kind} ${fault.agentId}: a run was there to ${fault.kind}`,
          haltedFirst
            ? `the breaker halted the pipeline at ${hhmm(r.alerts[0]!.at)}, before ${hhmm(fault.at)}`
            : `no scheduled run of ${fault.agentId} at or after ${hhmm(fault.at)} within the simulated hours`,
          true,
        ),
      );
      continue;
    }
    const hitIndex = r.runs.indexOf(hit);
    const recoveredIndex = r.runs.findIndex((run, i) => i > hitIndex && run.agentId === fault.agentId && run.status === 'completed');
    const recovered = recoveredIndex >= 0 ? r.runs[recoveredIndex] : undefined;
    const until = recovered?.at ?? r.end;
    if (fault.kind === 'crash') {
      const retry = redeliveryAt(agent, hit.slot);
      const late = retry > r.end;
      const name = `crash ${fault.agentId}: the ${hhmm(hit.at)} slot's retry took the expired lease over (lease ${agent.lock.leaseMinutes} min)`;
      checks.push(
        late
          ? notExercised(name, `the retry at ${hhmm(retry)} falls after the simulated hours: run more --hours`, true)
          : check(
              name,
              r.takeovers >= 1 && recovered?.slot === hit.slot,
              recovered ? `${r.takeovers} takeover(s); the slot completed at ${hhmm(recovered.at)}` : `${r.takeovers} takeover(s); the slot never completed`,
            ),
      );
    }
    const staleFrom = fault.kind === 'crash' ? hit.at + agent.heartbeat.staleAfterMinutes * 60_000 : hit.at;
    const downstream = pipeline.agents.filter((a) => a.upstream.includes(fault.agentId));
    // Runs in order: after the heartbeat went stale (or failed), before the agent's next success.
    const exposedOf = (id: string) =>
      r.runs.filter((run, i) => run.agentId === id && run.at > staleFrom && i > hitIndex && (recoveredIndex < 0 || i < recoveredIndex) && run.status !== 'skipped');
    // Degradation is what the fault exists to show: at least one downstream agent must have met the bad heartbeat.
    const anyExposed = downstream.some((d) => exposedOf(d.id).length > 0);
    for (const { id } of downstream) {
      const exposed = exposedOf(id);
      const healthy = exposed.filter((run) => !run.degraded);
      const name = `${fault.kind} ${fault.agentId}: ${id} ran degraded while ${fault.agentId}'s heartbeat was ${fault.kind === 'crash' ? `stale (> ${agent.heartbeat.staleAfterMinutes} min)` : 'failed'}`;
      checks.push(
        exposed.length === 0
          ? notExercised(name, `no run of ${id} fell between ${hhmm(staleFrom)} and ${hhmm(until)}`, !anyExposed)
          : check(name, healthy.length === 0, healthy.length ? `ran normally at ${healthy.map((h) => hhmm(h.at)).join(', ')}` : `${exposed.length} run(s) degraded`),
      );
    }
  }
  checks.push(...pageChecks(pipeline, faults, r));
  if (faults.some((f) => f.kind === 'crash' || f.kind === 'fail')) {
    const m = r.memory;
    const name = 'no update lost or doubled: every queued update applied or recognised as a duplicate';
    checks.push(
      m.submitted === 0
        ? notExercised(name, 'no memory update was submitted', false)
        : check(
            name,
            m.applied + m.duplicates === m.submitted && m.rejected === 0 && m.deadLetters === 0,
            `${m.applied} applied + ${m.duplicates} duplicates of ${m.submitted} submitted; ${m.rejected} rejected, ${m.deadLetters} dead-lettered`,
          ),
    );
  }
  return checks;
}

/** What the watch must have paged for the faults (and must not have): with `monitoring: 'watch'` only. */
function pageChecks(pipeline: PipelineConfig, faults: readonly Fault[], r: SimulationResult): Check[] {
  const opened = (pattern: string) => r.pages.filter((p) => !p.subject.includes('RESOLVED') && p.subject.includes(pattern));
  const resolved = (pattern: string) => r.pages.filter((p) => p.subject.includes(`RESOLVED: ${pattern}`));
  if (pipeline.monitoring !== 'watch') {
    return faults.length === 0 ? [] : [notExercised('pages for the faults', "monitoring is 'cloudwatch': its alarms cannot be rehearsed locally", false)];
  }
  const checks: Check[] = [];
  if (faults.length === 0) checks.push(check('no page', r.pages.length === 0, r.pages.length ? r.pages.map((p) => p.subject).join('; ') : '0 pages'));
  for (const fault of faults.filter((f) => f.kind === 'silence')) {
    const agent = pipeline.agents.find((a) => a.id === fault.agentId)!;
    const silentAfter = watchSpec(pipeline).agents.find((a) => a.id === agent.id)!.silentAfterMs!;
    const last = [...r.runs].reverse().find((run) => run.agentId === agent.id && run.status === 'completed' && run.at < fault.at);
    const deadline = (last?.at ?? r.start) + silentAfter + 5 * 60_000 + 60_000;
    const pages = opened(`${agent.id} is silent`);
    const name = `silence ${agent.id}: paged once, within its longest gap plus grace (${Math.round(silentAfter / 60_000)} min after its last run)`;
    const after = r.runs.find((run) => run.agentId === agent.id && run.status === 'completed' && run.at > fault.at);
    const early = after !== undefined && after.at <= (last?.at ?? r.start) + silentAfter;
    if (early) {
      // The silence ended before its gap plus grace ran out: nothing to page.
      checks.push(check(`silence ${agent.id}: not paged, it ran again at ${hhmm(after.at)} within its longest gap plus grace`, pages.length === 0, `${pages.length} silence page(s)`));
    } else if (pages.length === 0 && deadline > r.end) {
      checks.push(notExercised(name, `the page is due by ${hhmm(deadline)}, after the simulated hours: run more --hours`, true));
    } else {
      checks.push(
        check(name, pages.length === 1 && pages[0]!.at <= deadline, pages.length ? `paged at ${new Date(pages[0]!.at).toISOString()} (due by ${new Date(deadline).toISOString()}): ${pages[0]!.subject}` : `no page by ${hhmm(deadline)}`),
      );
    }
    const others = pipeline.agents.filter((a) => !faults.some((f) => f.kind === 'silence' && f.agentId === a.id)).flatMap((a) => opened(`${a.id} is silent`));
    checks.push(check(`silence ${agent.id}: no other agent paged as silent`, others.length === 0, others.length ? others.map((p) => p.subject).join('; ') : '0 other silence pages'));
    checks.push(
      after && !early
        ? check(`silence ${agent.id}: resolved once it ran again`, resolved(`${agent.id} is silent`).length === 1, `${resolved(`${agent.id} is silent`).length} resolution page(s)`)
        : notExercised(`silence ${agent.id}: resolved once it ran again`, early ? 'it was never paged' : `${agent.id} did not run again within the simulated hours`, false),
    );
  }
  for (const fault of faults.filter((f) => f.kind === 'fail')) {
    const failed = r.runs.some((run) => run.agentId === fault.agentId && run.status === 'fail');
    const name = `fail ${fault.agentId}: its failed run paged`;
    checks.push(failed ? check(name, opened(`${fault.agentId}'s runs fail`).length === 1, `${opened(`${fault.agentId}'s runs fail`).length} page(s)`) : notExercised(name, `no run of ${fault.agentId} failed`, false));
  }
  for (const fault of faults.filter((f) => f.kind === 'crash' || f.kind === 'fail')) {
    const degraded = [...new Set(r.runs.filter((run) => run.degraded && pipeline.agents.find((a) => a.id === run.agentId)?.upstream.includes(fault.agentId)).map((run) => run.agentId))];
    const name = `${fault.kind} ${fault.agentId}: each agent that ran degraded paged (stale upstream)`;
    const missing = degraded.filter((id) => opened(`${id} runs degraded`).length !== 1);
    checks.push(degraded.length ? check(name, missing.length === 0, missing.length ? `not paged once: ${missing.join(', ')}` : `paged: ${degraded.join(', ')}`) : notExercised(name, 'no downstream run went degraded', false));
  }
  if (faults.some((f) => f.kind === 'loop')) {
    const silent = opened(' is silent');
    checks.push(check('loop: no agent paged as silent while the breaker holds the pipeline halted (the trip paged once)', silent.length === 0, silent.length ? silent.map((p) => p.subject).join('; ') : '0 silence pages'));
  }
  return checks;
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
