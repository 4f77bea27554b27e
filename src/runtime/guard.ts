import { randomUUID } from 'node:crypto';
import type { AgentSpec } from '../config/agent-spec';
import { BreakerOpenError } from './breaker/breaker';
import type { EmitResult, OutputGuard } from './breaker/output-guard';
import type { Clock } from './clock';
import type { Heartbeats, UpstreamHealth } from './heartbeats';
import type { AgentInvocation } from './invocation';
import { LeaseKeeper } from './lease-keeper';
import { type Lease, LockHeldError, TaskCompletedError, type TaskLocks } from './locks';
import type { MemoryClient } from './memory/client';
import type { MemoryReader } from './memory/reader';
import type { ContextRetriever, RetrievalRequest, RetrievedContext } from './memory/retrieval';
import { RunMemory } from './memory/run-memory';
import type { MetricsSink } from './metrics';
import type { ModelProvider } from './model/model';
import { type ModelUsageTally, RunModel } from './model/run-model';

/**
 * The agent guard: the one wrapper every agent runs inside.
 *
 *   1. take the task lock for this scheduled slot (`<agentId>@<scheduledTime>`), so Scheduler's at-least-once
 *      retries of a slot run it once;
 *   2. check each upstream's heartbeat and decide degraded mode (a store error fails the run; it is not staleness);
 *   3. beat `running`, then renew the lease and beat on the agent's heartbeat interval while the work runs;
 *   4. run the work with the fencing token, the degraded decision and an abort signal that fires if the lock is lost;
 *   5. beat the outcome and release the lock (as completed when the work succeeded).
 *
 * Seams for the breaker and the memory client are the `AgentContext` the work receives and `GuardDeps`.
 */

/** Structured logging; Powertools' Logger fits it. */
export interface RunLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

export interface GuardDeps {
  readonly locks: TaskLocks;
  readonly heartbeats: Heartbeats;
  readonly clock: Clock;
  readonly metrics?: MetricsSink;
  readonly log?: RunLog;
  /** The circuit breaker: admission, output accounting, duplicate and budget guards. @default - outputs are not counted */
  readonly outputs?: OutputGuard;
  /** The steward's queue and the memory table; without them `context.memory` refuses. @default - none */
  readonly memory?: { readonly client: MemoryClient; readonly reader: MemoryReader; readonly retriever: ContextRetriever };
  /** Where `context.model` sends calls: Bedrock in Lambda, the offline provider locally. @default - none */
  readonly model?: ModelProvider;
  /** @default crypto.randomUUID */
  readonly newRunId?: () => string;
}

/** Why a run is degraded: one reason per unhealthy upstream. */
export interface Degraded {
  readonly reasons: readonly string[];
}

/** An output of a run, marked when it was produced in degraded mode. */
export interface AgentOutput<T = unknown> {
  /** `<runId>:<n>`: quoted in breaker alerts. */
  readonly id: string;
  readonly agentId: string;
  readonly runId: string;
  readonly fencingToken: number;
  readonly degraded: boolean;
  readonly degradedReason?: string;
  readonly payload: T;
}

/** An output as the run's outcome reports it: published, or suppressed as a duplicate. */
export type EmittedOutput = AgentOutput & { readonly published: boolean };

export interface AgentContext {
  readonly agentId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly invocation: AgentInvocation;
  /** Send with every write made under this run's lock; the steward rejects tokens older than ones it applied. */
  readonly fencingToken: number;
  /** Set when an upstream is stale, missing or failed: produce standalone output instead of waiting. */
  readonly degraded: Degraded | undefined;
  readonly upstream: Readonly<Record<string, UpstreamHealth>>;
  /** Aborted if the lease is lost mid-run; stop before the next side effect. */
  readonly signal: AbortSignal;
  /** Shared memory: reads from the table, writes through the steward, fenced with this run's token. */
  readonly memory: RunMemory;
  /**
   * Emits an output: counted by the breaker, checked for duplicates, and only then released to `publish` (the side
   * effect: a post, an email). Throws {@link BreakerOpenError} when the breaker is or becomes open; the guard then
   * ends the run as `halted`. Resolves `{ published: false }` for suppressed duplicate content.
   */
  emit<T>(payload: T, publish?: (output: AgentOutput<T>) => Promise<void>): Promise<EmitResult & { output: AgentOutput<T> }>;
  /**
   * The agent's model (`agents[].model` in the config): `converse({ system, task, context })`. Every call is metered
   * into the daily token budget, and refused before it is sent when the budget cannot cover it.
   */
  readonly model: RunModel;
  /** Reports tokens spent outside `model` (another provider); past the daily budget the breaker trips. */
  reportTokens(tokens: number): Promise<void>;
  /** Lazy context: the memory entries a task needs, within a token budget, pinned entries first (`ContextRetriever`). */
  retrieve(request: RetrievalRequest): Promise<RetrievedContext>;
}

/** Context tokens a run loaded, against what injecting all the memory it looked at would have cost. */
export interface ContextTokens {
  readonly loaded: number;
  readonly full: number;
}

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
      readonly result: R;
    }
  | {
      readonly status: 'skipped';
      readonly taskId: string;
      readonly reason: 'running-elsewhere' | 'already-completed';
      readonly detail: string;
    }
  | {
      /** The breaker refused the run, or opened during it. */
      readonly status: 'halted';
      readonly taskId: string;
      readonly reason: string;
      readonly outputs: readonly EmittedOutput[];
      readonly modelUsage?: ModelUsageTally;
    };

/** The run could not decide degraded mode because the store failed; nothing ran. */
export class UpstreamCheckError extends Error {
  override readonly name = 'UpstreamCheckError';
}

const MINUTE = 60_000;

/** The task lock id of one scheduled slot; the same for every delivery of that slot. */
export function slotTaskId(agentId: string, scheduledTime: string): string {
  return `${agentId}@${new Date(scheduledTime).toISOString()}`;
}

export async function runAgent<R>(
  deps: GuardDeps,
  spec: AgentSpec,
  invocation: AgentInvocation,
  work: (context: AgentContext) => Promise<R>,
): Promise<RunOutcome<R>> {
  const { locks, heartbeats, metrics, log } = deps;
  const taskId = slotTaskId(spec.id, invocation.scheduledTime);
  const runId = deps.newRunId?.() ?? randomUUID();
  const leaseMs = spec.leaseMinutes * MINUTE;

  let lease: Lease;
  try {
    lease = await locks.acquire(taskId, runId, leaseMs);
  } catch (error) {
    if (error instanceof LockHeldError || error instanceof TaskCompletedError) {
      metrics?.count('DuplicateRunsSkipped');
      log?.info('slot already taken; skipping', { taskId, detail: error.message });
      const reason = error instanceof LockHeldError ? 'running-elsewhere' : 'already-completed';
      return { status: 'skipped', taskId, reason, detail: error.message };
    }
    throw error;
  }

  const admission = deps.outputs ? await admitOrRelease(deps.outputs, locks, lease, runId, log) : undefined;
  if (admission && !admission.admitted) {
    metrics?.count('RunsRefused');
    log?.warn('breaker refused the run', { taskId, reason: admission.reason });
    return { status: 'halted', taskId, reason: admission.reason, outputs: [] };
  }
  const probe = admission?.admitted === true && admission.probe;
  // Beats order by run: this slot, and the fencing token this run's lock carries (a retry of the slot holds a higher).
  const order = { slot: new Date(invocation.scheduledTime).toISOString(), fencingToken: lease.fencingToken };

  let upstream: Record<string, UpstreamHealth>;
  try {
    upstream = await checkUpstreams(heartbeats, spec);
    await heartbeats.beat(spec.id, { runId, order, status: 'running' });
  } catch (error) {
    await releaseQuietly(locks, lease, log);
    if (probe) await deps.outputs?.probeFinished(runId, false);
    throw new UpstreamCheckError(`${spec.id}: could not read or write heartbeats; the run did not start`, {
      cause: error,
    });
  }
  const unhealthy = Object.values(upstream).filter((h) => h.state !== 'fresh');
  const degraded = unhealthy.length > 0 ? { reasons: unhealthy.map((h) => h.reason) } : undefined;
  if (degraded) {
    metrics?.count('DegradedRuns');
    log?.warn('upstream unhealthy; running degraded', { taskId, reasons: degraded.reasons });
  }

  const keeper = new LeaseKeeper(deps, spec, lease, runId, order.slot);
  const outputs: EmittedOutput[] = [];
  let memory: RunMemory | undefined;
  const contextTokens = { loaded: 0, full: 0 };
  const model = new RunModel({
    spec,
    signal: keeper.signal,
    deadline: () => keeper.lease.leaseExpiresAt,
    ...(deps.model ? { provider: deps.model } : {}),
    ...(deps.outputs ? { outputs: deps.outputs } : {}),
    ...(metrics ? { metrics } : {}),
  });
  const context: AgentContext = {
    agentId: spec.id,
    runId,
    taskId,
    invocation,
    fencingToken: lease.fencingToken,
    degraded,
    upstream,
    signal: keeper.signal,
    get memory(): RunMemory {
      if (!deps.memory) throw new Error(`${spec.id}: memory is not configured for this guard`);
      memory ??= new RunMemory(deps.memory.client, deps.memory.reader, { agentId: spec.id, runId, taskId, fencingToken: lease.fencingToken }, keeper.signal);
      return memory;
    },
    emit: async (payload, publish) => {
      const output = {
        id: `${runId}:${outputs.length}`,
        agentId: spec.id,
        runId,
        fencingToken: lease.fencingToken,
        degraded: degraded !== undefined,
        ...(degraded ? { degradedReason: degraded.reasons.join('; ') } : {}),
        payload,
      };
      keeper.signal.throwIfAborted();
      const release = publish ? () => publish(output) : undefined;
      const result = deps.outputs ? await deps.outputs.emit(spec, runId, output.id, payload, release) : (await release?.(), { published: true as const });
      outputs.push({ ...output, published: result.published });
      return { ...result, output };
    },
    reportTokens: async (tokens) => {
      if (deps.outputs) await deps.outputs.reportTokens(spec, tokens);
    },
    model,
    retrieve: async (request) => {
      if (!deps.memory) throw new Error(`${spec.id}: memory is not configured for this guard`);
      const retrieved = await deps.memory.retriever.retrieve(request);
      contextTokens.loaded += retrieved.tokensLoaded;
      contextTokens.full += retrieved.tokensFull;
      metrics?.count('ContextTokensLoaded', retrieved.tokensLoaded);
      return retrieved;
    },
  };

  let result: R;
  try {
    result = await work(context);
  } catch (error) {
    await keeper.stop();
    if (error instanceof BreakerOpenError) {
      metrics?.count('RunsHalted');
      await heartbeats
        .beat(spec.id, { runId, order, status: 'failed', detail: `halted: ${error.message}` })
        .catch((beatError: unknown) => log?.warn('could not record the halt heartbeat', { error: String(beatError) }));
      await releaseQuietly(locks, keeper.lease, log);
      return { status: 'halted', taskId, reason: error.message, outputs, modelUsage: model.usage };
    }
    metrics?.count('RunsFailed');
    if (probe) await deps.outputs?.probeFinished(runId, false);
    await heartbeats
      .beat(spec.id, { runId, order, status: 'failed', detail: error instanceof Error ? error.message : String(error) })
      .catch((beatError: unknown) => log?.warn('could not record the failure heartbeat', { error: String(beatError) }));
    await releaseQuietly(locks, keeper.lease, log);
    throw error;
  }
  await keeper.stop();
  if (keeper.lost) {
    metrics?.count('RunsFailed');
    if (probe) await deps.outputs?.probeFinished(runId, false);
    await heartbeats
      .beat(spec.id, { runId, order, status: 'failed', detail: keeper.lost.message })
      .catch((beatError: unknown) => log?.warn('could not record the failure heartbeat', { error: String(beatError) }));
    throw keeper.lost;
  }
  await heartbeats.beat(spec.id, {
    runId,
    order,
    status: 'succeeded',
    ...(degraded ? { detail: `degraded: ${degraded.reasons.join('; ')}` } : {}),
  });
  await locks.release(keeper.lease, { completed: true });
  if (probe) await deps.outputs?.probeFinished(runId, true);
  metrics?.count('RunsCompleted');
  return { status: 'completed', taskId, runId, fencingToken: lease.fencingToken, degraded, outputs, contextTokens, modelUsage: model.usage, result };
}

async function admitOrRelease(outputs: OutputGuard, locks: TaskLocks, lease: Lease, runId: string, log?: RunLog) {
  try {
    const admission = await outputs.admit(runId);
    if (!admission.admitted) await releaseQuietly(locks, lease, log);
    return admission;
  } catch (error) {
    await releaseQuietly(locks, lease, log);
    throw error;
  }
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
    log?.warn('could not release the lock; it frees itself when the lease expires', {
      taskId: lease.taskId,
      error: String(error),
    });
  }
}
