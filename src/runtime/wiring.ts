import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AgentSpec } from '../config/agent-spec.ts';
import { NotConfiguredError } from '../errors.ts';
import { type TableNames, UNKNOWN_SENDER } from '../contract/tables.ts';
import { type BreakerPort, readBreakerState } from './breaker/breaker-state.ts';
import { type BreakerTransport, RemoteBreaker } from './breaker/authority.ts';
import { OutputGuard } from './breaker/output-guard.ts';
import { OutputWindows } from './breaker/output-window.ts';
import type { Clock } from './clock.ts';
import type { GuardDeps, RunLog, SecretSource } from './run-context.ts';
import { Heartbeats } from './heartbeats.ts';
import { TaskLocks } from './locks.ts';
import { MemoryClient } from './memory/client.ts';
import { MemoryReader } from './memory/reader.ts';
import { MemoryReceipts } from './memory/receipts.ts';
import type { Retriever } from './memory/retrieval.ts';
import type { Embedder } from './memory/embedder.ts';
import type { EntryVectors } from './memory/entry-vectors.ts';
import { once } from './once.ts';
import type { MetricsSink } from './metrics.ts';
import { type Endpoints, type Instrument, clientConfig, documentClient } from './clients.ts';
import type { ModelProvider } from './model/model.ts';
import { RunHistory } from './run-history.ts';
import type { OutputEvents } from './output-events.ts';

/**
 * The one place the runtime is assembled: from where AWS is (endpoints), the clock, the metrics sink, and for the
 * breaker the alert sink and schedule switch. The Lambda adapters, local mode, the ops CLI and the bench all build
 * their parts here, so a part is wired one way everywhere. The steward, the one part no agent runs, is built from a
 * wiring's core by `wireSteward` (in its own module, so neither bundle loads the other's code).
 */

export type { Endpoints, Instrument } from './clients.ts';

export interface WiringOptions {
  readonly tables: TableNames;
  readonly clock: Clock;
  /** @default - the SDK's defaults */
  readonly endpoints?: Endpoints;
  /** @default - nothing counted */
  readonly metrics?: MetricsSink;
  /** @default - clients as the SDK makes them */
  readonly instrument?: Instrument;
  /** A document client to use instead of building one (tests and the bench share one). @default - built from `endpoints` */
  readonly dynamo?: DynamoDBDocumentClient;
  /**
   * Makes the SQS client memory updates are sent with, for the functions that send them (agents): passed in, so a
   * function that never sends (the steward, the watchdog) does not load the SQS client at cold start.
   * @default - `memoryClient` and `guardDeps` refuse
   */
  readonly sqs?: (config: SQSClientConfig) => SQSClient | Promise<SQSClient>;
  /** Embeds memory entries (the steward) and queries (retrieval) for ranking by meaning. @default - words only */
  readonly embedder?: Embedder;
}

/** What the breaker does besides its table: alert, switch schedules, and say how to reset it. */
/** An agent's memory queue and how it signs its requests. */
export interface QueueAccess {
  readonly queueUrl: string;
  /** Locally each agent signs as itself (the steward's SenderId). @default - the endpoints' credentials */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export class Wiring {
  readonly dynamo: DynamoDBDocumentClient;
  readonly tables: TableNames;
  readonly clock: Clock;

  constructor(private readonly options: WiringOptions) {
    this.tables = options.tables;
    this.clock = options.clock;
    this.dynamo = options.dynamo ?? documentClient(options.endpoints, options.instrument);
  }

  /** The same wiring on another clock (local mode freezes one agent's clock to play a crash). */
  withClock(clock: Clock): Wiring {
    return new Wiring({ ...this.options, clock, dynamo: this.dynamo });
  }

  get metrics(): MetricsSink | undefined {
    return this.options.metrics;
  }

  /** Task locks with fencing tokens, on the coordination table. */
  locks(): TaskLocks {
    return new TaskLocks({ client: this.dynamo, tableName: this.tables.coordination, clock: this.clock, ...this.metricsOption() });
  }

  /** Agents' heartbeats, on the coordination table. */
  heartbeats(): Heartbeats {
    return new Heartbeats({ client: this.dynamo, tableName: this.tables.coordination, clock: this.clock, ...this.metricsOption() });
  }

  /** Each run's outcome, for `nightshift runs`. */
  history(): RunHistory {
    return new RunHistory({ client: this.dynamo, tableName: this.tables.coordination, clock: this.clock });
  }

  /** Strongly consistent reads of shared memory and the steward's rejections. */
  /** The memory reader; `agents` are whose rejection records it reads besides `unknown` senders'. */
  reader(agents: readonly string[] = []): MemoryReader {
    return new MemoryReader({ client: this.dynamo, tableName: this.tables.memory, senders: [...agents, UNKNOWN_SENDER] });
  }

  /**
   * Lazy context: the memory entries a task needs within a token budget. The ranking code (and its vectors) loads with
   * the first retrieval: not every run retrieves.
   */
  retriever(): Retriever {
    const load = once(async () => {
      const [{ ContextRetriever }, vectors] = await Promise.all([import('./memory/retrieval.ts'), this.vectors()]);
      return new ContextRetriever({ client: this.dynamo, tableName: this.tables.memory, ...(vectors ? { vectors } : {}) });
    });
    return { retrieve: async (request) => (await load()).retrieve(request) };
  }

  /** Entry vectors, when this wiring has an embedder. */
  async vectors(onFailure?: (namespace: string, key: string, error: unknown) => void): Promise<EntryVectors | undefined> {
    const { embedder } = this.options;
    if (!embedder) return undefined;
    const { EntryVectors } = await import('./memory/entry-vectors.ts');
    return new EntryVectors({ client: this.dynamo, tableName: this.tables.memory, embedder, clock: this.clock, ...this.metricsOption(), ...(onFailure ? { onFailure } : {}) });
  }

  /**
   * The breaker's admission and output accounting, over `breaker`: the agent's `RemoteBreaker` (every move of the
   * breaker's state is the breaker function's), or the `Breaker` itself where the caller is privileged.
   */
  outputs(breaker: BreakerPort): OutputGuard {
    return new OutputGuard({
      breaker,
      windows: new OutputWindows({ client: this.dynamo, tableName: this.tables.counters, clock: this.clock }),
      ...this.metricsOption(),
    });
  }

  /** The agent's view of the breaker: its state read directly, every change asked of the breaker function. */
  remoteBreaker(send: BreakerTransport): RemoteBreaker {
    return new RemoteBreaker({ state: () => readBreakerState(this.dynamo, this.tables.counters), send });
  }

  /** How an agent submits memory updates to the steward's queue. */
  memoryClient(access: QueueAccess): MemoryClient {
    if (!this.options.sqs) throw new NotConfiguredError('this wiring sends no memory updates: give it an `sqs` client factory');
    const config = clientConfig(this.options.endpoints, this.options.endpoints?.sqs);
    const make = this.options.sqs;
    // Made with the first submission: a run that writes no memory loads no SQS client.
    return new MemoryClient({ sqs: async () => this.instrument(await make(access.credentials ? { ...config, credentials: access.credentials } : config)), queueUrl: access.queueUrl });
  }

  /** Everything an agent's guard runs on. */
  guardDeps(parts: {
    outputs: OutputGuard;
    queue: QueueAccess;
    model?: ModelProvider;
    log?: RunLog;
    secrets?: SecretSource;
    outputEvents?: OutputEvents;
    /** How a run started by an output waits between reads of its upstream's receipts. @default real time */
    pause?: (ms: number) => Promise<void>;
  }): GuardDeps {
    return {
      locks: this.locks(),
      heartbeats: this.heartbeats(),
      clock: this.clock,
      ...this.metricsOption(),
      outputs: parts.outputs,
      memory: { client: this.memoryClient(parts.queue), reader: this.reader(), retriever: this.retriever() },
      ...(parts.model ? { model: parts.model } : {}),
      ...(parts.log ? { log: parts.log } : {}),
      ...(parts.secrets ? { secrets: parts.secrets } : {}),
      ...(parts.outputEvents ? { outputEvents: parts.outputEvents } : {}),
      receipts: new MemoryReceipts({ client: this.dynamo, tableName: this.tables.memory }),
      ...(parts.pause ? { pause: parts.pause } : {}),
    };
  }

  private metricsOption(): { metrics?: MetricsSink } {
    return this.options.metrics ? { metrics: this.options.metrics } : {};
  }

  private instrument<T>(client: T): T {
    return this.options.instrument ? this.options.instrument(client) : client;
  }
}

/** What an agent's handler runs over: the guard's dependencies, the agent's spec and where runs are recorded. */
export interface Runtime {
  readonly deps: GuardDeps;
  readonly spec: AgentSpec;
  /** Where each run's outcome is recorded for `nightshift runs`. @default - not recorded */
  readonly history?: RunHistory;
}
