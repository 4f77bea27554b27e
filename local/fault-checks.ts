import type { PipelineConfig } from '../src/config/pipeline.ts';
import { watchSpec } from '../src/config/watch-plan.ts';
import { type Fault, busiestWindow, downstreamOf, redeliveryAt } from './faults.ts';
import { type Check, type SimulationResult, check, notApplicable, notExercised } from './result.ts';

/**
 * The checks that follow the faults injected into a rehearsal, derived from the pipeline's limits, its dependency
 * graph, how each agent runs (schedules, triggers) and the faults: never from the reference pipeline's names.
 */

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
                id === loop.agentId
                  ? `${id} published nothing after ${hhmm(loop.at)}: the loop never ran${agent.schedules.length === 0 ? ' (it runs only on triggers, and no event started it)' : ''}`
                  : r.runs.some((run) => run.agentId === id && run.at >= loop.at)
                    ? `${id} ran ${r.runs.filter((run) => run.agentId === id && run.at >= loop.at).length} time(s) after ${hhmm(loop.at)} and published nothing: the breaker had tripped first`
                    : `the cascade never reached ${id}: it did not run after ${hhmm(loop.at)}`,
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
      // From the trip's own moment: runs an in-run loop's outputs started are refused at the very time it tripped.
      const later = trip === undefined ? [] : r.runs.filter((run) => run.at >= trip);
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
            : `no run of ${fault.agentId} (${runsBy(agent)}) at or after ${hhmm(fault.at)} within the simulated hours`,
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
      const retry = redeliveryAt(agent, hit.trigger ? hit.at : hit.slot);
      const late = retry > r.end;
      const what = hit.trigger ? `run started by ${describeRunTrigger(hit.trigger)}` : 'slot';
      const name = `crash ${fault.agentId}: the ${hhmm(hit.at)} ${what}'s redelivery took the expired lease over (lease ${agent.lock.leaseMinutes} min)`;
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
    // Degradation is what the fault exists to show: at least one downstream agent that runs on a schedule (and so
    // must run while the heartbeat is bad) must have met it. One that runs only on triggers runs when an event comes:
    // a crashed or failed run publishes nothing after it, so nothing may start it in the window.
    const anyExposed = downstream.some((d) => exposedOf(d.id).length > 0);
    const anyScheduled = downstream.some((d) => d.schedules.length > 0);
    for (const d of downstream) {
      const exposed = exposedOf(d.id);
      const healthy = exposed.filter((run) => !run.degraded);
      const name = `${fault.kind} ${fault.agentId}: ${d.id} ran degraded while ${fault.agentId}'s heartbeat was ${fault.kind === 'crash' ? `stale (> ${agent.heartbeat.staleAfterMinutes} min)` : 'failed'}`;
      const between = `between ${hhmm(staleFrom)} and ${hhmm(until)}`;
      checks.push(
        exposed.length > 0
          ? check(name, healthy.length === 0, healthy.length ? `ran normally at ${healthy.map((h) => hhmm(h.at)).join(', ')}` : `${exposed.length} run(s) degraded`)
          : d.schedules.length === 0
            ? notApplicable(name, `${d.id} runs only on triggers (${d.triggers.map(describeTrigger).join(', ')}) and nothing started it ${between}`)
            : notExercised(name, `no run of ${d.id} fell ${between}`, !anyExposed && anyScheduled),
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
    const silentAfter = watchSpec(pipeline).agents.find((a) => a.id === agent.id)!.silentAfterMs;
    if (silentAfter === undefined) {
      // No cadence to miss: what a silenced trigger-only agent loses is its events, which EventBridge dead-letters.
      const why = `${agent.id} runs only on triggers, so it has no cadence to miss and is never paged as silent; in the cloud the events it could not take go to its dead-letter queue after EventBridge's retries, which pages ("invocation(s) of ${agent.id} lost"), and local mode has no dead-letter queue for them`;
      checks.push(notApplicable(`silence ${agent.id}: paged once, within its longest gap plus grace`, why));
      const missed = r.events.filter((e) => e.agentId === agent.id && e.kind === 'fault' && e.detail.includes('not delivered: silenced')).length;
      checks.push(check(`silence ${agent.id}: events meant for it while silenced were not run`, r.runs.every((run) => run.agentId !== agent.id || run.at < fault.at || (fault.until !== undefined && run.at >= fault.until)), `${missed} event(s) not delivered`));
      checks.push(check(`silence ${agent.id}: not paged as silent`, opened(`${agent.id} is silent`).length === 0, `${opened(`${agent.id} is silent`).length} silence page(s)`));
      continue;
    }
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
    const listing = pipeline.agents.filter((a) => a.upstream.includes(fault.agentId));
    checks.push(
      degraded.length
        ? check(name, missing.length === 0, missing.length ? `not paged once: ${missing.join(', ')}` : `paged: ${degraded.join(', ')}`)
        : listing.length > 0 && listing.every((a) => a.schedules.length === 0)
          ? notApplicable(name, `the agents watching ${fault.agentId}'s heartbeat (${listing.map((a) => a.id).join(', ')}) run only on triggers, and a crashed or failed run starts none of them on its stale heartbeat`)
          : notExercised(name, 'no downstream run went degraded', false),
    );
  }
  if (faults.some((f) => f.kind === 'loop')) {
    const silent = opened(' is silent');
    checks.push(check('loop: no agent paged as silent while the breaker holds the pipeline halted (the trip paged once)', silent.length === 0, silent.length ? silent.map((p) => p.subject).join('; ') : '0 silence pages'));
  }
  return checks;
}


/** How an agent runs, in words: `schedules`, `triggers`, or both. */
function runsBy(agent: PipelineConfig['agents'][number]): string {
  if (agent.schedules.length === 0) return 'it runs only on triggers';
  return agent.triggers.length === 0 ? 'scheduled' : 'scheduled or triggered';
}

function describeTrigger(trigger: PipelineConfig['agents'][number]['triggers'][number]): string {
  return 'outputsOf' in trigger ? `outputs of ${trigger.outputsOf}` : `${trigger.event.source.join('|')} events`;
}

function describeRunTrigger(trigger: NonNullable<SimulationResult['runs'][number]['trigger']>): string {
  return trigger.kind === 'output' ? `output ${trigger.outputId}` : `event ${trigger.source}`;
}
