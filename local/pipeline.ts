import { triggeredBy } from '../src/config/trigger-routes.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { agentHandler, type AgentWork } from '../lambdas/shared/agent-handler.ts';
import { createStewardHandler } from '../lambdas/steward/handler.ts';
import { agentSpec, breakerSpec } from '../src/config/agent-spec.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import type { TableNames } from '../src/contract/tables.ts';
import { CallLog, recordCalls } from '../src/runtime/aws-calls.ts';
import type { Breaker } from '../src/runtime/breaker/breaker.ts';
import { wireBreaker } from '../src/runtime/breaker/wire-breaker.ts';
import { inProcessTransport } from '../src/runtime/breaker/breaker-function.ts';
import { readBreakerState } from '../src/runtime/breaker/breaker-state.ts';
import { Watch, storeSources } from '../src/runtime/watch/watch.ts';
import { watchSpec } from '../src/config/watch-plan.ts';
import type { OutputGuard } from '../src/runtime/breaker/output-guard.ts';
import type { Clock, ManualClock } from '../src/runtime/clock.ts';
import type { Heartbeats } from '../src/runtime/heartbeats.ts';
import type { TaskLocks } from '../src/runtime/locks.ts';
import type { MemoryClient } from '../src/runtime/memory/client.ts';
import type { Publishers, SecretSource } from '../src/runtime/run-context.ts';
import { localSecretVariable } from '../src/config/agent-access.ts';
import { NotConfiguredError } from '../src/errors.ts';
import type { MemoryReader } from '../src/runtime/memory/reader.ts';
import type { Retriever } from '../src/runtime/memory/retrieval.ts';
import { CountingMetrics } from '../src/runtime/metrics.ts';
import { wireSteward } from '../src/runtime/memory/steward.ts';
import { LocalEventBus } from './event-bus.ts';
import type { Embedder } from '../src/runtime/memory/embedder.ts';
import { offlineEmbedder } from '../src/runtime/memory/offline-embedder.ts';
import { EntryVectors, embeddingFailures } from '../src/runtime/memory/entry-vectors.ts';
import { type EntryChange, LocalEmbedQueue } from '../src/runtime/memory/entry-changes.ts';
import { OfflineProvider } from '../src/runtime/model/offline.ts';
import { type Runtime, Wiring } from '../src/runtime/wiring.ts';
import { documentClient } from '../src/runtime/clients.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';
import { SqsEventSource } from './event-source.ts';
import { MessageLedger } from './ledger.ts';
import { LocalSchedules, RecordedAlerts, declaringCalls } from './side-effects.ts';
import { LocalSqs } from './sqs-server.ts';
import { SimulatedTtl } from './simulated-ttl.ts';
import { createTables } from './tables.ts';
import { applyAgentEnvironment } from './agent-environment.ts';
import { UsageMeter } from './usage.ts';

export { LocalSchedules, RecordedAlerts } from './side-effects.ts';

/**
 * The whole pipeline on this machine: DynamoDB Local with the stack's tables, the local SQS endpoint with the
 * memory queue and its DLQ, the steward handler fed by a Lambda-style event source, and each agent's real handler
 * over a runtime whose clock is the accelerated one, every part built by the one {@link Wiring}. Alerts are
 * recorded (console and file) instead of sent; schedules are switched in memory. Every AWS call each function
 * makes is recorded in {@link LocalPipeline.calls}, by function (`agent/<id>`, `steward`).
 */

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const REGION = 'us-east-1';

/** The identity an agent's local SQS requests are signed with, and so the SenderId the steward sees. */
export function localSenderId(agentId: string): string {
  return `local-${agentId}`;
}

/** The name local mode records the breaker function's calls under. */
export const BREAKER_FUNCTION = 'breaker';

/** The name local mode records the watch function's calls under. */
export const WATCH_FUNCTION = 'watch';
/** The embedder function's name in the call log (the memory table's stream consumer). */
export const EMBEDDER_FUNCTION = 'embedder';

/** The name local mode records an agent's calls under. */
export function agentFunction(agentId: string): string {
  return `agent/${agentId}`;
}

export interface LocalPipelineOptions {
  readonly pipeline: PipelineConfig;
  readonly clock: ManualClock;
  /** Persist DynamoDB Local here (so `nightshift status` can read a finished run); in memory when unset. */
  readonly stateDir?: string;
  /** Use an already running DynamoDB Local instead of starting one (tests). */
  readonly dynamoEndpoint?: string;
  /** Table name prefix. @default `<name>-<stage>` */
  readonly tablePrefix?: string;
  readonly print?: (line: string) => void;
  /**
   * Embeds entries and queries when the pipeline has `embeddings`. @default the offline Universal Sentence Encoder
   * (`offlineEmbedder()`), one per process
   */
  readonly embedder?: Embedder;
}

/** Loaded once per process, however many local pipelines run in it. */
const offline = offlineEmbedder();

export class LocalPipeline {
  readonly metrics = new CountingMetrics();
  /** Memory updates by message (each counted once however often it was delivered). */
  readonly ledger = new MessageLedger();
  /** Requests and capacity the run used: what `nightshift cost` prices. */
  readonly usage = new UsageMeter();
  /** Every AWS call each function made (the stand-ins declare theirs): held against the stack's IAM by the tests. */
  readonly calls = new CallLog();
  readonly schedules: LocalSchedules;
  readonly alerts: RecordedAlerts;
  /** What the watch paged (`monitoring: 'watch'`): incidents opened and resolved, as SNS would carry them. */
  readonly pages: RecordedAlerts;
  /** The watch function, run by the runner every five simulated minutes; only with `monitoring: 'watch'`. */
  readonly watch?: Watch;
  readonly memoryQueue: string;
  readonly deadLetterQueue: string;
  /** The operator's view (not recorded as any function's calls). */
  readonly reader: MemoryReader;
  readonly retriever: Retriever;
  readonly breaker: Breaker;
  readonly heartbeats: Heartbeats;
  readonly locks: TaskLocks;
  readonly client: DynamoDBDocumentClient;
  /** Every agent's model calls go here: offline, deterministic, metered like Bedrock. */
  readonly model = new OfflineProvider();
  readonly eventSource: SqsEventSource;
  /** The memory table's stream and the embedder function, here: entries the steward wrote, embedded apart from it. */
  readonly embedQueue?: LocalEmbedQueue;
  /** DynamoDB TTL on the simulated clock (its calls are AWS's, not the pipeline's: not metered, not recorded). */
  readonly ttl: SimulatedTtl;
  /** EventBridge: agents' published outputs and outside events, routed to the agents whose triggers match. */
  readonly bus: LocalEventBus;
  private readonly operator: Wiring;
  /** The breaker function, run in this process: its calls are recorded under {@link BREAKER_FUNCTION}. */
  private readonly authority: Breaker;
  private readonly agentWirings = new Map<string, { wiring: Wiring; outputs: OutputGuard; model: ReturnType<typeof declaringCalls>['model'] }>();
  private readonly memoryClients = new Map<string, MemoryClient>();

  private constructor(
    readonly options: LocalPipelineOptions,
    readonly dynamo: { endpoint: string; process?: DynamoDbLocal },
    readonly names: TableNames,
    readonly sqs: LocalSqs,
  ) {
    const { pipeline, clock } = options;
    const spec = breakerSpec(pipeline);
    this.schedules = new LocalSchedules(spec.scheduleNames);
    this.alerts = new RecordedAlerts(clock, options.stateDir && join(options.stateDir, 'alerts.log'), options.print);
    this.pages = new RecordedAlerts(clock, options.stateDir && join(options.stateDir, 'pages.log'), options.print && ((line) => options.print!(line.replace(/^ALERT /, 'PAGE '))));
    this.memoryQueue = `${pipeline.name}-${pipeline.stage}-memory.fifo`;
    this.deadLetterQueue = `${pipeline.name}-${pipeline.stage}-memory-dlq.fifo`;
    sqs.createQueues([
      { name: this.deadLetterQueue },
      {
        name: this.memoryQueue,
        visibilityTimeoutMs: pipeline.steward.timeoutSeconds * 6 * 1000,
        deadLetter: { name: this.deadLetterQueue, maxReceiveCount: pipeline.steward.maxReceiveCount },
      },
    ]);
    sqs.onRequest = (action) => this.usage.countSqs(action);
    this.operator = this.wiring();
    this.ttl = new SimulatedTtl({ client: documentClient(this.endpoints()), tables: names, clock });
    this.bus = new LocalEventBus(pipeline, clock, this.calls);
    this.client = this.operator.dynamo;
    this.reader = this.operator.reader(pipeline.agents.map((a) => a.id));
    this.retriever = this.operator.retriever();
    this.locks = this.operator.locks();
    this.heartbeats = this.operator.heartbeats();
    this.breaker = wireBreaker(this.operator, { spec, alerts: this.alerts, schedules: this.schedules, reset: 'local' });
    // The breaker function: the one part that moves the breaker, switches schedules and alerts.
    const authority = declaringCalls(
      { alerts: this.alerts, schedules: this.schedules, model: this.model, scheduleGroup: `${spec.pipeline}-${spec.stage}`, scheduleNames: spec.scheduleNames, topicKeyOfItsOwn: pipeline.monitoring === 'cloudwatch' },
      (call) => this.calls.record(BREAKER_FUNCTION, call),
    );
    this.authority = wireBreaker(this.wiring(BREAKER_FUNCTION), { spec, alerts: authority.alerts, schedules: authority.schedules, reset: 'local' });
    if (pipeline.monitoring === 'watch') this.watch = this.watchFunction();
    // Each agent signs its SQS requests with its own local identity, which the local SQS reports as SenderId: the
    // steward checks writers exactly as it does in the cloud, where SenderId is the agent's role.
    const writers = new Map(pipeline.agents.map((a) => [localSenderId(a.id), { agentId: a.id, writes: a.memory.writes, pins: a.memory.writes.filter((ns) => pipeline.pinnable.includes(ns)), updatesPerHour: a.memory.maxUpdatesPerHour, receipts: triggeredBy(pipeline.agents, a.id).length > 0 }] as const));
    const stewardWiring = this.wiring('steward');
    if (pipeline.embeddings) {
      const vectors = new EntryVectors({
        client: this.wiring(EMBEDDER_FUNCTION).dynamo,
        tableName: names.memory,
        embedder: options.embedder ?? offline,
        metrics: this.metrics,
        clock,
        onFailure: (namespace, key, error) => options.print?.(`embedder: ${namespace}/${key} not embedded (found by its words until a retry embeds it): ${(error as Error).message}`),
      });
      this.embedQueue = new LocalEmbedQueue(vectors);
    }
    const embedQueue = this.embedQueue;
    const steward = wireSteward(stewardWiring, {
      writers,
      ...(embedQueue ? { onWritten: (change: EntryChange) => embedQueue.push(change) } : {}),
      onOutcome: (message, result) => this.ledger.record(message.messageId, result.outcome),
    });
    const stewardHandler = createStewardHandler(() => steward);
    this.eventSource = new SqsEventSource({
      // Lambda's event source mapping polls with the steward's role: its calls are the steward's.
      sqs: recordCalls(new SQSClient({ endpoint: sqs.endpoint, region: REGION, credentials: CREDENTIALS }), (call) => this.calls.record('steward', call)),
      queueUrl: sqs.queueUrl(this.memoryQueue),
      queueArn: `arn:aws:sqs:local:000000000000:${this.memoryQueue}`,
      batchSize: pipeline.steward.batchSize,
      handler: (event: SQSEvent, context: Context) => {
        this.usage.stewardInvocations++;
        return stewardHandler(event, context) as Promise<SQSBatchResponse>;
      },
    });
  }

  /** The runtime's parts for one function, its calls recorded under `functionName` (the operator's are not). */
  private wiring(functionName?: string, clock: Clock = this.options.clock): Wiring {
    return new Wiring({
      tables: this.names,
      clock,
      endpoints: this.endpoints(),
      metrics: this.metrics,
      sqs: (config) => new SQSClient(config),
      ...(this.options.pipeline.embeddings ? { embedder: this.options.embedder ?? offline } : {}),
      instrument: (client) => {
        if (client instanceof DynamoDBClient) this.usage.meter(client, functionName === WATCH_FUNCTION ? this.usage.watch : undefined);
        return functionName ? recordCalls(client, (call) => this.calls.record(functionName, call)) : client;
      },
    });
  }

  /** The watch function's parts, its calls recorded under {@link WATCH_FUNCTION}: the same runtime the Lambda runs. */
  private watchFunction(): Watch {
    const wiring = this.wiring(WATCH_FUNCTION);
    const stand = declaringCalls(
      { alerts: this.pages, schedules: this.schedules, model: this.model, scheduleGroup: '', scheduleNames: [], topicKeyOfItsOwn: false },
      (call) => this.calls.record(WATCH_FUNCTION, call),
    );
    return new Watch({
      spec: watchSpec(this.options.pipeline, `${this.options.pipeline.name} (${this.options.pipeline.stage}, local)`),
      sources: storeSources({
        history: wiring.history(),
        breaker: () => readBreakerState(wiring.dynamo, this.names.counters),
        reader: wiring.reader(this.options.pipeline.agents.map((a) => a.id)),
        embeddingFailures: (now) => embeddingFailures(wiring.dynamo, this.names.memory, now),
        queues: async () => {
          for (const queue of [this.memoryQueue, this.deadLetterQueue]) this.calls.record(WATCH_FUNCTION, { service: 'sqs', action: 'GetQueueAttributes', resource: `queue/${queue}` });
          const depths = await this.queueDepths();
          // Local mode has no Scheduler dead-letter queue: nothing is ever lost there.
          return { memoryVisible: depths.queue, memoryDeadLetters: depths.deadLetters, scheduleDeadLetters: 0, undeliveredAlerts: 0, embeddingsGivenUp: this.embedQueue?.given ?? 0 };
        },
      }),
      client: wiring.dynamo,
      tableName: this.names.coordination,
      clock: this.options.clock,
      alerts: stand.alerts,
    });
  }

  private endpoints() {
    return { dynamodb: this.dynamo.endpoint, sqs: this.sqs.endpoint, region: REGION, credentials: CREDENTIALS };
  }

  /**
   * An agent function's parts, built once like a warm sandbox's. Its breaker is a `RemoteBreaker`: the state read
   * with the agent's own client, every change asked of the breaker function (recorded as the agent invoking its
   * alias, then run by {@link LocalPipeline.authority} as the breaker function's own calls).
   */
  private agentParts(agentId: string) {
    let parts = this.agentWirings.get(agentId);
    if (!parts) {
      const functionName = agentFunction(agentId);
      const wiring = this.wiring(functionName);
      const spec = breakerSpec(this.options.pipeline);
      const stand = declaringCalls(
        { alerts: this.alerts, schedules: this.schedules, model: this.model, scheduleGroup: `${spec.pipeline}-${spec.stage}`, scheduleNames: spec.scheduleNames, modelProfileOf: agentId },
        (call) => this.calls.record(functionName, call),
      );
      const breaker = wiring.remoteBreaker(
        inProcessTransport(this.authority, agentId, () => {
          this.usage.breakerInvocations++;
          this.calls.record(functionName, { service: 'lambda', action: 'InvokeFunction', resource: `function/${BREAKER_FUNCTION}:${agentId}` });
        }),
      );
      parts = { wiring, outputs: wiring.outputs(breaker), model: stand.model };
      this.agentWirings.set(agentId, parts);
    }
    return parts;
  }

  static async start(options: LocalPipelineOptions): Promise<LocalPipeline> {
    const restoreEnvironment = applyAgentEnvironment(options.pipeline);
    try {
      if (options.stateDir) mkdirSync(options.stateDir, { recursive: true });
      const dynamoDbLocal = options.dynamoEndpoint
        ? undefined
        : await startDynamoDbLocal(options.stateDir ? { dbPath: join(options.stateDir, 'dynamodb') } : {});
      const endpoint = options.dynamoEndpoint ?? dynamoDbLocal!.endpoint;
      const raw = new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS });
      const names = await createTables(raw, options.tablePrefix ?? `${options.pipeline.name}-${options.pipeline.stage}`);
      raw.destroy();
      const sqs = new LocalSqs(options.clock);
      await sqs.start();
      const local = new LocalPipeline(options, { endpoint, process: dynamoDbLocal }, names, sqs);
      local.restoreEnvironment = restoreEnvironment;
      return local;
    } catch (error) {
      restoreEnvironment();
      throw error;
    }
  }

  /** The runtime an agent's handler runs over; `clock` lets a scenario freeze one process (a crash). */
  runtime(agentId: string, clock: Clock = this.options.clock): Runtime {
    const { wiring, outputs, model } = this.agentParts(agentId);
    const own = clock === this.options.clock ? wiring : wiring.withClock(clock);
    return {
      spec: agentSpec(this.options.pipeline, agentId),
      history: own.history(),
      deps: own.guardDeps({
        outputs,
        model,
        queue: this.queueAccess(agentId),
        secrets: this.secretsFor(agentId),
        outputEvents: this.bus.outputsOf(agentFunction(agentId)),
        pause: (ms) => this.pause(ms),
      }),
    };
  }

  /**
   * An agent's secrets locally: the config's `local` value, else the environment variable it names
   * (`NIGHTSHIFT_SECRET_<AGENT>_<NAME>`). Each read is recorded as the call the cloud makes (SSM GetParameter or
   * Secrets Manager GetSecretValue), so the agent's grant is held against it.
   */
  private secretsFor(agentId: string): SecretSource {
    const declared = this.options.pipeline.agents.find((a) => a.id === agentId)?.secrets ?? {};
    return async (name, where) => {
      this.calls.record(
        agentFunction(agentId),
        where.parameter
          ? { service: 'ssm', action: 'GetParameter', resource: `parameter${where.parameter}` }
          : { service: 'secretsmanager', action: 'GetSecretValue', resource: `secret/${where.secret}` },
      );
      const variable = localSecretVariable(agentId, name);
      const value = declared[name]?.local ?? process.env[variable];
      if (value === undefined) {
        throw new NotConfiguredError(`${agentId}'s secret '${name}' has no local value: set agents[${agentId}].secrets.${name}.local in the config, or the environment variable ${variable}`);
      }
      return value;
    };
  }

  /** How an agent submits memory updates: SendMessageBatch to the local FIFO queue, signed as that agent. */
  memoryClientFor(agentId: string): MemoryClient {
    let client = this.memoryClients.get(agentId);
    if (!client) this.memoryClients.set(agentId, (client = this.agentParts(agentId).wiring.memoryClient(this.queueAccess(agentId))));
    return client;
  }

  private queueAccess(agentId: string) {
    return { queueUrl: this.sqs.queueUrl(this.memoryQueue), credentials: { accessKeyId: localSenderId(agentId), secretAccessKey: 'local' } };
  }

  /** The agent's real Lambda handler, over the local runtime. */
  handler<R>(agentId: string, work: AgentWork<R>, clock?: Clock) {
    return agentHandler(work, () => this.runtime(agentId, clock), this.publishers.get(agentId));
  }

  /** Each agent's named side effects (its module's `publishers`), as its handler is built with them. */
  readonly publishers = new Map<string, Publishers>();

  /**
   * Feeds the steward what the memory queue holds, as Lambda's event source would; a queue with nothing visible is
   * not polled (the simulation asks every simulated minute, and most minutes nothing was sent).
   */
  async drainMemory(): Promise<void> {
    if (!this.stewardStalled(this.options.clock.now()) && this.sqs.queue(this.memoryQueue).counts().visible > 0) await this.eventSource.drain();
    // The stream's consumer after the steward's turn: what it wrote is found by meaning from then on.
    await this.embedQueue?.drain();
  }

  /** Everything the steward and the embedder still have to do, done (a run's end, a test's check). */
  async settle(): Promise<void> {
    await this.eventSource.drain();
    await this.embedQueue?.drainAll();
  }

  /**
   * When the steward takes nothing from the queue (a rehearsal's `stall:steward`): as a steward that is throttled,
   * failing or behind. Messages wait in the queue meanwhile, as SQS keeps them.
   */
  stewardStalled: (now: number) => boolean = () => false;

  /**
   * How a run waits here (for its upstream's memory): the steward goes on meanwhile, as it would in the cloud, and
   * the time passes on the simulated clock.
   */
  private async pause(ms: number): Promise<void> {
    await this.drainMemory();
    await this.options.clock.advance(ms);
  }

  async queueDepths(): Promise<{ queue: number; inFlight: number; deadLetters: number }> {
    const queue = this.sqs.queue(this.memoryQueue).counts();
    const dlq = this.sqs.queue(this.deadLetterQueue).counts();
    return { queue: queue.visible, inFlight: queue.inFlight, deadLetters: dlq.visible + dlq.inFlight };
  }

  /** Where this pipeline's DynamoDB Local listens. */
  get dynamoEndpoint(): string {
    return this.dynamo.endpoint;
  }

  async stop(): Promise<void> {
    this.restoreEnvironment();
    await this.sqs.stop();
    await this.dynamo.process?.stop();
  }

  private restoreEnvironment: () => void = () => undefined;
}
