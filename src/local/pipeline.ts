import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { agentHandler, type AgentWork, type Runtime } from '../../lambdas/shared/agent-handler';
import { RunHistory } from '../runtime/run-history';
import { createStewardHandler } from '../../lambdas/steward/handler';
import { agentSpec, breakerSpec } from '../config/agent-spec';
import type { PipelineConfig } from '../config/pipeline';
import type { Alert, AlertSink } from '../runtime/breaker/alerts';
import { Breaker } from '../runtime/breaker/breaker';
import { OutputGuard } from '../runtime/breaker/output-guard';
import { OutputWindows } from '../runtime/breaker/output-window';
import type { ScheduleSwitch } from '../runtime/breaker/schedules';
import type { Clock, ManualClock } from '../runtime/clock';
import { Heartbeats } from '../runtime/heartbeats';
import { TaskLocks } from '../runtime/locks';
import { MemoryClient } from '../runtime/memory/client';
import { MemoryReader } from '../runtime/memory/reader';
import { ContextRetriever } from '../runtime/memory/retrieval';
import { OfflineProvider } from '../runtime/model/offline';
import { MemorySteward } from '../runtime/memory/steward';
import { CountingMetrics } from '../runtime/metrics';
import { MessageLedger } from './ledger';
import { UsageMeter } from './usage';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local';
import { SqsEventSource } from './event-source';
import { LocalSqs } from './sqs-server';
import { type TableNames, createTables } from './tables';

/**
 * The whole pipeline on this machine: DynamoDB Local with the stack's tables, the local SQS endpoint with the
 * memory queue and its DLQ, the steward handler fed by a Lambda-style event source, and each agent's real handler
 * over a runtime whose clock is the accelerated one. Alerts are recorded (console and file) instead of sent;
 * schedules are switched in memory.
 */

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** The identity an agent's local SQS requests are signed with, and so the SenderId the steward sees. */
export function localSenderId(agentId: string): string {
  return `local-${agentId}`;
}

/** Records what SNS would have sent. */
export class RecordedAlerts implements AlertSink {
  readonly alerts: (Alert & { at: number })[] = [];
  constructor(
    private readonly clock: Clock,
    private readonly file?: string,
    private readonly print: (line: string) => void = () => undefined,
  ) {}

  async publish(alert: Alert): Promise<void> {
    const at = this.clock.now();
    this.alerts.push({ ...alert, at });
    if (this.file) appendFileSync(this.file, `--- ${new Date(at).toISOString()} ${alert.subject}\n${alert.message}\n\n`);
    this.print(`ALERT ${alert.subject}`);
  }
}

/** The pipeline's schedules as enabled/disabled flags. */
export class LocalSchedules implements ScheduleSwitch {
  readonly state = new Map<string, boolean>();
  constructor(names: readonly string[]) {
    for (const name of names) this.state.set(name, true);
  }
  async enabled(): Promise<string[]> {
    return [...this.state].filter(([, on]) => on).map(([name]) => name);
  }
  async disable(names: readonly string[]): Promise<void> {
    for (const name of names) this.state.set(name, false);
  }
  async enable(names: readonly string[]): Promise<void> {
    for (const name of names) this.state.set(name, true);
  }
  isEnabled(name: string): boolean {
    return this.state.get(name) ?? false;
  }
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
}

export class LocalPipeline {
  readonly metrics = new CountingMetrics();
  /** Memory updates by message (each counted once however often it was delivered). */
  readonly ledger = new MessageLedger();
  /** Requests and capacity the run used: what `nightshift cost` prices. */
  readonly usage = new UsageMeter();
  readonly schedules: LocalSchedules;
  readonly alerts: RecordedAlerts;
  readonly memoryQueue: string;
  readonly deadLetterQueue: string;
  readonly reader: MemoryReader;
  readonly retriever: ContextRetriever;
  /** Every agent's model calls go here: offline, deterministic, metered like Bedrock. */
  readonly model = new OfflineProvider();
  readonly breaker: Breaker;
  readonly heartbeats: Heartbeats;
  readonly locks: TaskLocks;
  readonly eventSource: SqsEventSource;
  readonly sqsClient: SQSClient;
  private readonly outputs: OutputGuard;
  private readonly memoryClients = new Map<string, MemoryClient>();

  private constructor(
    readonly options: LocalPipelineOptions,
    readonly dynamo: { endpoint: string; process?: DynamoDbLocal },
    readonly client: DynamoDBDocumentClient,
    readonly names: TableNames,
    readonly sqs: LocalSqs,
  ) {
    const { pipeline, clock } = options;
    const spec = breakerSpec(pipeline);
    this.schedules = new LocalSchedules(spec.scheduleNames);
    this.alerts = new RecordedAlerts(clock, options.stateDir && join(options.stateDir, 'alerts.log'), options.print);
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
    this.usage.meter(client);
    sqs.onRequest = (action) => this.usage.countSqs(action);
    this.sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
    this.reader = new MemoryReader({ client, tableName: names.memory });
    this.retriever = new ContextRetriever({ client, tableName: names.memory });
    this.locks = new TaskLocks({ client, tableName: names.coordination, clock, metrics: this.metrics });
    this.heartbeats = new Heartbeats({ client, tableName: names.coordination, clock });
    this.breaker = new Breaker({
      client,
      tableName: names.counters,
      clock,
      alerts: this.alerts,
      schedules: this.schedules,
      pipelineLabel: `${pipeline.name} (${pipeline.stage}, local)`,
      resetCommand: 'npx nightshift breaker reset --local',
      metrics: this.metrics,
      ...(spec.coolDownMinutes === undefined ? {} : { coolDownMinutes: spec.coolDownMinutes }),
    });
    this.outputs = new OutputGuard({
      breaker: this.breaker,
      windows: new OutputWindows({ client, tableName: names.counters, clock }),
      pipelineLimit: { maxOutputs: spec.maxOutputs, windowMinutes: spec.windowMinutes },
      metrics: this.metrics,
    });
    // Each agent signs its SQS requests with its own local identity, which the local SQS reports as SenderId: the
    // steward checks writers exactly as it does in the cloud, where SenderId is the agent's role.
    const writers = new Map(pipeline.agents.map((a) => [localSenderId(a.id), { agentId: a.id, writes: a.memory.writes }] as const));
    const steward = new MemorySteward({
      client,
      tableName: names.memory,
      clock,
      metrics: this.metrics,
      writers,
      onOutcome: (message, result) => this.ledger.record(message.messageId, result.outcome),
    });
    const stewardHandler = createStewardHandler(() => steward);
    this.eventSource = new SqsEventSource({
      sqs: this.sqsClient,
      queueUrl: sqs.queueUrl(this.memoryQueue),
      queueArn: `arn:aws:sqs:local:000000000000:${this.memoryQueue}`,
      batchSize: pipeline.steward.batchSize,
      handler: (event: SQSEvent, context: Context) => {
        this.usage.stewardInvocations++;
        return stewardHandler(event, context) as Promise<SQSBatchResponse>;
      },
    });
  }

  static async start(options: LocalPipelineOptions): Promise<LocalPipeline> {
    if (options.stateDir) mkdirSync(options.stateDir, { recursive: true });
    const process = options.dynamoEndpoint
      ? undefined
      : await startDynamoDbLocal(options.stateDir ? { dbPath: join(options.stateDir, 'dynamodb') } : {});
    const endpoint = options.dynamoEndpoint ?? process!.endpoint;
    const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS });
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const names = await createTables(raw, options.tablePrefix ?? `${options.pipeline.name}-${options.pipeline.stage}`);
    const sqs = new LocalSqs(options.clock);
    await sqs.start();
    return new LocalPipeline(options, { endpoint, process }, client, names, sqs);
  }

  /** The runtime an agent's handler runs over; `clock` lets a scenario freeze one process (a crash). */
  runtime(agentId: string, clock: Clock = this.options.clock): Runtime {
    return {
      spec: agentSpec(this.options.pipeline, agentId),
      history: new RunHistory({ client: this.client, tableName: this.names.coordination, clock }),
      deps: {
        locks: new TaskLocks({ client: this.client, tableName: this.names.coordination, clock, metrics: this.metrics }),
        heartbeats: new Heartbeats({ client: this.client, tableName: this.names.coordination, clock, metrics: this.metrics }),
        clock,
        metrics: this.metrics,
        outputs: this.outputs,
        memory: { client: this.memoryClientFor(agentId), reader: this.reader, retriever: this.retriever },
        model: this.model,
      },
    };
  }

  /** How an agent submits memory updates: SendMessageBatch to the local FIFO queue, signed as that agent. */
  memoryClientFor(agentId: string): MemoryClient {
    let client = this.memoryClients.get(agentId);
    if (!client) {
      const sqs = new SQSClient({ endpoint: this.sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: localSenderId(agentId), secretAccessKey: 'local' } });
      client = new MemoryClient({ sqs, queueUrl: this.sqs.queueUrl(this.memoryQueue) });
      this.memoryClients.set(agentId, client);
    }
    return client;
  }

  /** The agent's real Lambda handler, over the local runtime. */
  handler<R>(agentId: string, work: AgentWork<R>, clock?: Clock) {
    return agentHandler(agentId, work, () => this.runtime(agentId, clock));
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
    await this.sqs.stop();
    await this.dynamo.process?.stop();
  }
}
