import type { AgentSpec } from '../config/agent-spec.ts';
import type { EmitResult, OutputGuard } from './breaker/output-guard.ts';
import type { Clock } from './clock.ts';
import type { Heartbeats, UpstreamHealth } from './heartbeats.ts';
import type { AgentInvocation } from './invocation.ts';
import type { TaskLocks } from './locks.ts';
import type { MemoryClient } from './memory/client.ts';
import type { MemoryReader } from './memory/reader.ts';
import type { RetrievalRequest, RetrievedContext, Retriever } from './memory/retrieval.ts';
import type { MemoryReceipts } from './memory/receipts.ts';
import { RunMemory } from './memory/run-memory.ts';
import type { MetricsSink } from './metrics.ts';
import type { ModelProvider } from './model/model.ts';
import { RunModel } from './model/run-model.ts';
import { NotConfiguredError, UnknownNameError } from '../errors.ts';
import { type OutputEvents, checkEventSize } from './output-events.ts';
import { UnnamedSideEffectError, holdReasons, publisherNamed } from './review/review-policy.ts';

/**
 * What an agent's work function sees of its run ({@link AgentContext}) and what the guard runs on ({@link GuardDeps}).
 * The run's lifecycle (lock, heartbeats, ending) is in `run-lifecycle.ts`; this module builds the context.
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
  readonly memory?: { readonly client: MemoryClient; readonly reader: MemoryReader; readonly retriever: Retriever };
  /** Where `context.model` sends calls: Bedrock in Lambda, the offline provider locally. @default - none */
  readonly model?: ModelProvider;
  /**
   * Reads the agent's secrets (`context.secret`): Powertools Parameters in Lambda, the config's local values locally.
   * @default - `context.secret` refuses
   */
  readonly secrets?: SecretSource;
  /** @default crypto.randomUUID */
  readonly newRunId?: () => string;
  /**
   * Where a published output goes for the agents that run on it (when the spec's `publishOutputs`): after the breaker
   * admitted it and its side effect was released. @default - nowhere
   */
  readonly outputEvents?: OutputEvents;
  /**
   * The steward's receipts of upstreams' updates: a run started by an output waits for those its upstream's run
   * queued before it (`waitForMemorySeconds`). @default - no wait (the run reads memory as it finds it)
   */
  readonly receipts?: MemoryReceipts;
  /** How the guard waits between two reads of the receipts. @default node:timers/promises setTimeout */
  readonly pause?: (ms: number) => Promise<void>;
  /**
   * The agent module's named side effects (`export const publishers`): `ctx.emit(payload, 'name')` runs one, now or,
   * for an output held for review, in the publishing run its approval starts. @default - none
   */
  readonly publishers?: Publishers;
}

/**
 * A named side effect of an agent's outputs (a post, an email), exported by the agent module in `publishers`. It
 * runs with the context of the run that publishes: the emitting run, or a held output's publishing run.
 */
export type Publisher<T = unknown> = (output: AgentOutput<T>, context: AgentContext) => Promise<void>;

// biome-ignore lint/suspicious/noExplicitAny: each publisher names its own payload type.
export type Publishers = Readonly<Record<string, Publisher<any>>>;

/** Reads one of an agent's declared secrets by its name in the config, with where the spec says it lives. */
export type SecretSource = (name: string, where: { readonly parameter?: string | undefined; readonly secret?: string | undefined }) => Promise<string>;

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

/** An output as the run's outcome reports it: published, suppressed as a duplicate, or held for review. */
export type EmittedOutput = AgentOutput & { readonly published: boolean; readonly held?: boolean };

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
  emit<T>(payload: T, publish?: ((output: AgentOutput<T>) => Promise<void>) | string): Promise<EmitResult & { output: AgentOutput<T> }>;
  /**
   * The agent's model (`agents[].model` in the config): `converse({ system, task, context })`. Every call is metered
   * into the daily token budget, and refused before it is sent when the budget cannot cover it.
   */
  readonly model: RunModel;
  /** Reports tokens spent outside `model` (another provider); past the daily budget the breaker trips. */
  reportTokens(tokens: number): Promise<void>;
  /** Lazy context: the memory entries a task needs, within a token budget, pinned entries first (`ContextRetriever`). */
  retrieve(request: RetrievalRequest): Promise<RetrievedContext>;
  /**
   * One of the agent's `secrets` from the config, by its name there: read at run time (cached five minutes), never
   * logged. Throws {@link UnknownNameError} for a name the config does not give this agent.
   */
  secret(name: string): Promise<string>;
}

/** Context tokens a run loaded, against what injecting all the memory it looked at would have cost. */
export interface ContextTokens {
  readonly loaded: number;
  readonly full: number;
}

export { NotConfiguredError };

/** What the lifecycle knows of a run when it hands it to the work: what the context shows, the spec and the deadline. */
export interface RunState extends Pick<AgentContext, 'runId' | 'taskId' | 'invocation' | 'fencingToken' | 'degraded' | 'upstream' | 'signal'> {
  readonly spec: AgentSpec;
  /** Whether this is the agent's first run since the breaker closed after a trip, or its probe (reviews `after-trip`). */
  readonly afterTrip?: boolean;
  /** When the lease (as last renewed) runs out: model retries stop before it. */
  readonly deadline: () => number;
}

/** What a run produced, filled in as the work runs. */
export interface RunTally {
  readonly outputs: EmittedOutput[];
  readonly contextTokens: { loaded: number; full: number };
  readonly model: RunModel;
}

/** Builds the context a run's work receives, and the tally the lifecycle reports from. */
export function createRunContext(deps: GuardDeps, run: RunState): { context: AgentContext; tally: RunTally } {
  const { spec, runId, signal } = run;
  const outputs: EmittedOutput[] = [];
  const contextTokens = { loaded: 0, full: 0 };
  let memory: RunMemory | undefined;
  const needMemory = () => {
    if (!deps.memory) throw new NotConfiguredError(`${spec.id}: memory is not configured for this guard`);
    return deps.memory;
  };
  const model = new RunModel({
    spec,
    signal,
    deadline: run.deadline,
    ...(deps.model ? { provider: deps.model } : {}),
    ...(deps.outputs ? { outputs: deps.outputs } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  const context: AgentContext = {
    agentId: spec.id,
    runId,
    taskId: run.taskId,
    invocation: run.invocation,
    fencingToken: run.fencingToken,
    degraded: run.degraded,
    upstream: run.upstream,
    signal,
    get memory(): RunMemory {
      const { client, reader } = needMemory();
      memory ??= new RunMemory(client, reader, { agentId: spec.id, runId, taskId: run.taskId, fencingToken: run.fencingToken }, signal);
      return memory;
    },
    emit: async (payload, publish) => {
      const output = {
        id: `${runId}:${outputs.length}`,
        agentId: spec.id,
        runId,
        fencingToken: run.fencingToken,
        degraded: run.degraded !== undefined,
        ...(run.degraded ? { degradedReason: run.degraded.reasons.join('; ') } : {}),
        payload,
      };
      signal.throwIfAborted();
      const events = spec.publishOutputs ? deps.outputEvents : undefined;
      // Before the breaker counts it or its side effect runs: an output too large to trigger anyone is refused whole.
      if (events) checkEventSize(output);
      const named = typeof publish === 'string' ? publish : undefined;
      const publisher = named === undefined ? publish : publisherNamed(spec, deps.publishers, named);
      if (spec.review) {
        if (typeof publish === 'function') throw new UnnamedSideEffectError(spec.id);
        const heldFor = await holdReasons(spec.review.when, { spec, degraded: run.degraded, afterTrip: run.afterTrip === true, outputs: deps.outputs });
        if (heldFor.length > 0) {
          if (!deps.outputs) throw new NotConfiguredError(`${spec.id}: output ${output.id} is to be held for review, and this guard has no breaker to hold it`);
          // What this run queued before it: the runs its event starts, once approved, wait for it.
          const queued = memory ? await memory.submitted() : undefined;
          const result = await deps.outputs.hold(spec, runId, output.id, { ...(named === undefined ? {} : { via: named }), payload, degraded: output.degraded, reasons: heldFor, ...(queued ? { memory: queued } : {}) });
          outputs.push({ ...output, published: false, ...(result.published === false && result.reason === 'held' ? { held: true } : {}) });
          return { ...result, output };
        }
      }
      const release =
        publisher || events
          ? async () => {
              await (publisher as Publisher<unknown> | undefined)?.(output, context);
              // The updates this run queued before the output, for the runs it triggers to wait for (causality).
              await events?.publish({ ...output, ...(memory ? { memory: await memory.submitted() } : {}) });
            }
          : undefined;
      const result = deps.outputs ? await deps.outputs.emit(spec, runId, output.id, payload, release) : (await release?.(), { published: true as const });
      outputs.push({ ...output, published: result.published });
      return { ...result, output };
    },
    reportTokens: async (tokens) => {
      if (deps.outputs) await deps.outputs.reportTokens(spec, tokens);
    },
    model,
    secret: async (name) => {
      const where = spec.secrets?.[name];
      if (!where) throw new UnknownNameError(`${spec.id} has no secret '${name}' (it has: ${Object.keys(spec.secrets ?? {}).join(', ') || 'none'}); add it to agents[${spec.id}].secrets in the config`);
      if (!deps.secrets) throw new NotConfiguredError(`${spec.id}: secrets are not configured for this guard`);
      return deps.secrets(name, where);
    },
    retrieve: async (request) => {
      // Pins count only where the config allows them, whatever an entry says (or the request asks).
      const retrieved = await needMemory().retriever.retrieve({ ...request, pinnable: spec.pinnable ?? [] });
      contextTokens.loaded += retrieved.tokensLoaded;
      contextTokens.full += retrieved.tokensFull;
      deps.metrics?.count('ContextTokensLoaded', retrieved.tokensLoaded);
      if (retrieved.embedding?.tokens) deps.metrics?.count('EmbeddingTokens', retrieved.embedding.tokens);
      return retrieved;
    },
  };
  return { context, tally: { outputs, contextTokens, model } };
}
