import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_MEMORY_WAIT_SECONDS } from '../config/trigger-routes.ts';
import { type MemoryWait, awaitUpstreamMemory } from './memory/receipts.ts';
import type { AgentSpec } from '../config/agent-spec.ts';
import { NightshiftError } from '../errors.ts';
import { type Admission, BreakerOpenError } from './breaker/breaker.ts';
import type { OutputGuard } from './breaker/output-guard.ts';
import type { Heartbeats, RunOrder, UpstreamHealth } from './heartbeats.ts';
import { type AgentInvocation, taskIdOf } from './invocation.ts';
import { matchesTrigger } from '../config/trigger-routes.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { type Lease, LockHeldError, TaskCompletedError, type TaskLocks } from './locks.ts';
import type { ModelUsageTally } from './model/run-model.ts';
import { type AgentContext, type ContextTokens, type Degraded, type EmittedOutput, type GuardDeps, type RunLog, createRunContext } from './run-context.ts';

export type { AgentContext, AgentOutput, ContextTokens, Degraded, EmittedOutput, GuardDeps, RunLog } from './run-context.ts';

export type RunOutcome<R> =
  | {
      readonly status: 'completed';
      readonly taskId: string;
      readonly runId: string;
      readonly fencingToken: number;
      readonly degraded: Degraded | undefined;
      readonly outputs: readonly EmittedOutput[];
      readonly contextTokens: ContextTokens;
      readonly modelUsage: ModelUsageTally;
      /** For a run started by an output: what it waited for of its upstream's memory, and how long. */
      readonly memoryWait?: MemoryWait;
      readonly result: R;
    }
  | {
      readonly status: 'skipped';
      readonly taskId: string;
      /** `rate-limited`: an outside event past its trigger's `maxPerHour` (recorded, never retried). */
      readonly reason: 'running-elsewhere' | 'already-completed' | 'rate-limited';
      readonly detail: string;
    }
  | {
      /** The breaker refused the run, or opened during it. */
      readonly status: 'halted';
      readonly taskId: string;
      readonly runId: string;
      readonly reason: string;
      readonly outputs: readonly EmittedOutput[];
      readonly modelUsage?: ModelUsageTally;
    };

/** The run could not decide degraded mode because the store failed; nothing ran. */
export class UpstreamCheckError extends NightshiftError {
  override readonly name = 'UpstreamCheckError';
}

const MINUTE = 60_000;

/** The task lock id of one scheduled slot; the same for every delivery of that slot. */
export function slotTaskId(agentId: string, scheduledTime: string): string {
  return taskIdOf({ agentId, scheduledTime, scheduleArn: 'local', attemptNumber: 0 });
}

/**
 * The agent guard: the one wrapper every agent runs inside.
 *
 *   1. take the task lock for this scheduled slot (`<agentId>@<scheduledTime>`) or triggering event
 *      (`<agentId>@event:<event id>`), so Scheduler's and EventBridge's at-least-once deliveries run it once;
 *   2. ask the breaker to admit the run (a HALF_OPEN breaker admits one probe);
 *   3. check each upstream's heartbeat and decide degraded mode (a store error fails the run; it is not staleness);
 *   4. beat `running`, then renew the lease and beat on the agent's heartbeat interval while the work runs;
 *   5. run the work with the fencing token, the degraded decision and an abort signal that fires if the lock is lost;
 *   6. beat the outcome and release the lock (as completed when the work succeeded).
 */
export async function runAgent<R>(
  deps: GuardDeps,
  spec: AgentSpec,
  invocation: AgentInvocation,
  work: (context: AgentContext) => Promise<R>,
): Promise<RunOutcome<R>> {
  const { locks, metrics, log } = deps;
  // A held output's publishing run is not the agent's work: it beats no heartbeat, so it neither hides a failed
  // run from the agent's downstreams nor counts as the agent's first run after a trip.
  const heartbeats = invocation.publishHeld === undefined ? deps.heartbeats : silentHeartbeats(deps.heartbeats);
  const taskId = taskIdOf(invocation);
  const runId = deps.newRunId?.() ?? randomUUID();

  let lease: Lease;
  try {
    lease = await locks.acquire(taskId, runId, spec.leaseMinutes * MINUTE);
  } catch (error) {
    if (error instanceof LockHeldError || error instanceof TaskCompletedError) {
      metrics?.count('DuplicateRunsSkipped');
      log?.info('slot already taken; skipping', { taskId, detail: error.message });
      const reason = error instanceof LockHeldError ? 'running-elsewhere' : 'already-completed';
      return { status: 'skipped', taskId, reason, detail: error.message };
    }
    throw error;
  }

  // An outside event counts against its trigger's hourly limit once it holds the lock (so a redelivery is not counted
  // again); past the limit the event is done with: the lock completes, and EventBridge does not retry it.
  const limited = await rateLimited(deps, spec, invocation).catch(async (error: unknown) => {
    await releaseQuietly(locks, lease, log);
    throw error;
  });
  if (limited) {
    await locks.release(lease, { completed: true });
    log?.warn('outside event past its trigger\'s hourly limit; skipped', { taskId, detail: limited });
    return { status: 'skipped', taskId, reason: 'rate-limited', detail: limited };
  }

  // A held output's publishing run is never a HALF_OPEN breaker's probe: it publishes only once the breaker is closed.
  const admission = deps.outputs ? await admitOrRelease(deps.outputs, locks, lease, runId, log, invocation.publishHeld === undefined) : undefined;
  if (admission && !admission.admitted) {
    metrics?.count('RunsRefused');
    log?.warn('breaker refused the run', { taskId, reason: admission.reason });
    return { status: 'halted', taskId, runId, reason: admission.reason, outputs: [] };
  }
  const probe = admission?.admitted === true && admission.probe;
  // Beats order by run: this slot, and the fencing token this run's lock carries (a retry of the slot holds a higher).
  const order: RunOrder = { slot: new Date(invocation.scheduledTime).toISOString(), fencingToken: lease.fencingToken };

  let upstream: Record<string, UpstreamHealth>;
  let afterTrip = false;
  try {
    upstream = await checkUpstreams(heartbeats, spec);
    if (spec.review?.when.includes('after-trip') && admission?.admitted) afterTrip = await firstRunAfterTrip(heartbeats, spec.id, admission);
    await heartbeats.beat(spec.id, { runId, order, status: 'running' });
  } catch (error) {
    await releaseQuietly(locks, lease, log);
    if (probe) await deps.outputs?.probeFinished(runId, false);
    throw new UpstreamCheckError(`${spec.id}: could not read or write heartbeats; the run did not start`, { cause: error });
  }
  const memoryWait = await waitForUpstreamMemory(deps, spec, invocation);
  const unhealthy = Object.values(upstream).filter((h) => h.state !== 'fresh');
  // Degradation travels down a chain: a run started by an output its upstream published while degraded is degraded too.
  const trigger = invocation.trigger;
  const inherited = trigger?.kind === 'output' && trigger.degraded ? [`started by ${trigger.from}'s output ${trigger.outputId}, published by a degraded run`] : [];
  const reasons = [...unhealthy.map((h) => h.reason), ...(memoryWait?.reason ? [memoryWait.reason] : []), ...inherited];
  const degraded = reasons.length > 0 ? { reasons } : undefined;
  if (degraded) {
    metrics?.count('DegradedRuns');
    log?.warn('upstream unhealthy; running degraded', { taskId, reasons: degraded.reasons });
  }

  const keeper = new LeaseKeeper({ ...deps, heartbeats }, spec, lease, runId, order.slot);
  const { context, tally } = createRunContext(deps, {
    spec,
    runId,
    taskId,
    invocation,
    fencingToken: lease.fencingToken,
    degraded,
    upstream,
    signal: keeper.signal,
    deadline: () => keeper.lease.leaseExpiresAt,
    afterTrip,
  });

  /** The one failure ending: count it, end a probe, beat `failed`, and release the lock if this run still holds it. */
  const endFailed = async (detail: string, how: { halted: boolean; holdsLock: boolean }) => {
    metrics?.count(how.halted ? 'RunsHalted' : 'RunsFailed');
    // A halt has tripped or refused the breaker itself: the probe's fate is already decided.
    if (probe && !how.halted) await deps.outputs?.probeFinished(runId, false);
    await heartbeats
      .beat(spec.id, { runId, order, status: 'failed', detail })
      .catch((beatError: unknown) => log?.warn('could not record the failure heartbeat', { error: String(beatError) }));
    if (how.holdsLock) await releaseQuietly(locks, keeper.lease, log);
  };

  let result: R;
  try {
    const held = invocation.publishHeld;
    // A held output's publishing run (rare): its code loads with it.
    result = held === undefined ? await work(context) : ((await (await import('./review/publish-held.ts')).publishHeld(deps, spec, context, tally.outputs, held)) as R);
  } catch (error) {
    await keeper.stop();
    if (error instanceof BreakerOpenError) {
      await endFailed(`halted: ${error.message}`, { halted: true, holdsLock: true });
      return { status: 'halted', taskId, runId, reason: error.message, outputs: tally.outputs, modelUsage: tally.model.usage };
    }
    await endFailed(error instanceof Error ? error.message : String(error), { halted: false, holdsLock: !keeper.lost });
    throw error;
  }
  await keeper.stop();
  if (keeper.lost) {
    await endFailed(keeper.lost.message, { halted: false, holdsLock: false });
    throw keeper.lost;
  }
  await heartbeats.beat(spec.id, { runId, order, status: 'succeeded', ...(degraded ? { detail: `degraded: ${degraded.reasons.join('; ')}` } : {}) });
  await locks.release(keeper.lease, { completed: true });
  if (probe) await deps.outputs?.probeFinished(runId, true);
  metrics?.count('RunsCompleted');
  return {
    status: 'completed',
    taskId,
    runId,
    fencingToken: lease.fencingToken,
    degraded,
    outputs: tally.outputs,
    contextTokens: tally.contextTokens,
    modelUsage: tally.model.usage,
    ...(memoryWait ? { memoryWait } : {}),
    result,
  };
}

/**
 * For a run started by another agent's output: waits, at most its trigger's `waitForMemorySeconds`, for the steward
 * to settle the memory updates the upstream's run queued before that output (see `memory/receipts.ts`).
 */
async function waitForUpstreamMemory(deps: GuardDeps, spec: AgentSpec, invocation: AgentInvocation): Promise<MemoryWait | undefined> {
  const trigger = invocation.trigger;
  if (trigger?.kind !== 'output' || !deps.receipts) return undefined;
  const configured = spec.triggers?.find((t) => 'outputsOf' in t && t.outputsOf === trigger.from);
  const seconds = (configured && 'outputsOf' in configured ? configured.waitForMemorySeconds : undefined) ?? DEFAULT_MEMORY_WAIT_SECONDS;
  const wait = await awaitUpstreamMemory({ receipts: deps.receipts, clock: deps.clock, pause: deps.pause ?? ((ms) => delay(ms)) }, trigger, seconds * 1000);
  if (wait?.reason) deps.log?.warn("upstream's memory not applied in time; running degraded", { from: wait.from, runId: wait.runId, pending: wait.pending });
  return wait;
}

/**
 * Whether this run is the agent's first since the breaker closed after a trip (or its probe): unless its last
 * heartbeat is a success since then. Any doubt (another run of it going on, a heartbeat that does not parse) holds.
 */
async function firstRunAfterTrip(heartbeats: Heartbeats, agentId: string, admission: Extract<Admission, { admitted: true }>): Promise<boolean> {
  if (admission.probe) return true;
  if (admission.closedAfterTrip === undefined) return false;
  const last = await heartbeats.last(agentId).catch(() => undefined);
  return !(last?.status === 'succeeded' && last.beatAt >= admission.closedAfterTrip);
}

async function admitOrRelease(outputs: OutputGuard, locks: TaskLocks, lease: Lease, runId: string, log: RunLog | undefined, mayProbe: boolean) {
  try {
    const admission = await outputs.admit(runId, { mayProbe });
    if (!admission.admitted) await releaseQuietly(locks, lease, log);
    return admission;
  } catch (error) {
    await releaseQuietly(locks, lease, log);
    throw error;
  }
}

/**
 * Why a triggered run is refused by its trigger's hourly limit, or nothing (a scheduled run, or within it). An outside
 * event's trigger has its `maxPerHour`; an upstream's outputs, what the upstream's breaker limit lets it publish in
 * an hour (its role can put output events on the bus without the breaker counting them).
 */
async function rateLimited(deps: GuardDeps, spec: AgentSpec, invocation: AgentInvocation): Promise<string | undefined> {
  const trigger = invocation.trigger;
  // A replay is the operator's decision, not traffic: it goes through the breaker and the budget, not this limit.
  if (!trigger || trigger.kind === 'schedule' || !deps.outputs || invocation.replayOf !== undefined) return undefined;
  const triggers = spec.triggers ?? [];
  const index =
    trigger.kind === 'event'
      ? triggers.findIndex((t) => 'event' in t && matchesTrigger(t, { source: trigger.source, detailType: trigger.detailType, bus: t.event.bus }))
      : triggers.findIndex((t) => 'outputsOf' in t && t.outputsOf === trigger.from);
  const configured = triggers[index];
  if (!configured) return undefined;
  const limit = 'event' in configured ? (configured.event.maxPerHour ?? DEFAULT_MAX_PER_HOUR) : configured.maxPerHour;
  if (limit === undefined) return undefined;
  const count = await deps.outputs.countTriggeredRun(spec.id, index);
  if (count <= limit) return undefined;
  const what = trigger.kind === 'event' ? `event ${trigger.eventId} from ${trigger.source}` : `output ${trigger.outputId} of ${trigger.from}`;
  return `${what} is run ${count} of this trigger in the last hour; its maxPerHour is ${limit}`;
}

/** The hourly limit of an outside-event trigger that sets none (the config's default). */
const DEFAULT_MAX_PER_HOUR = 60;

/** Heartbeats that read as usual and write nothing. */
function silentHeartbeats(heartbeats: Heartbeats): Heartbeats {
  return Object.assign(Object.create(heartbeats) as Heartbeats, { beat: async () => true });
}

async function checkUpstreams(heartbeats: Heartbeats, spec: AgentSpec): Promise<Record<string, UpstreamHealth>> {
  const checks = await Promise.all(
    spec.upstream.map(async (u) => [u.id, await heartbeats.checkUpstream(u.id, u.staleAfterMinutes * MINUTE)] as const),
  );
  return Object.fromEntries(checks);
}

/** Releases without completing; a failure here only delays the slot's retry until the lease expires. */
async function releaseQuietly(locks: TaskLocks, lease: Lease, log: RunLog | undefined): Promise<void> {
  try {
    await locks.release(lease);
  } catch (error) {
    log?.warn('could not release the lock; it frees itself when the lease expires', { taskId: lease.taskId, error: String(error) });
  }
}
