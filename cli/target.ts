import { NightshiftError, UsageError } from '../src/errors.ts';
import type { RedriveResult } from '../src/runtime/memory/redrive.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { breakerSpec, schedulePrefix } from '../src/config/agent-spec.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../local/dynamodb-local.ts';
import { STACK_OUTPUT, type StackOutputKey, outputKey, stackName as stackNameOf } from '../src/contract/outputs.ts';
import { type TableNames, tableNames } from '../src/contract/tables.ts';
import { LocalSchedules } from '../local/side-effects.ts';
import type { Breaker } from '../src/runtime/breaker/breaker.ts';
import { EventBridgeSchedules, type ScheduleSwitch } from '../src/runtime/breaker/schedules.ts';
import type { RunHistory } from '../src/runtime/run-history.ts';
import { type Endpoints, Wiring } from '../src/runtime/wiring.ts';
import { type BreakerWiring, wireBreaker } from '../src/runtime/breaker/wire-breaker.ts';
import { readSnapshotIfAny } from './snapshot.ts';
import { type Alert, SnsAlerts } from '../src/runtime/breaker/alerts.ts';
import { type Clock, systemClock } from '../src/runtime/clock.ts';
import type { Heartbeats } from '../src/runtime/heartbeats.ts';
import type { TaskLocks } from '../src/runtime/locks.ts';
import type { MemoryReader } from '../src/runtime/memory/reader.ts';

/**
 * What the ops CLI operates on: the state a `nightshift local` run left in its state directory, or a deployed
 * stack found by its name (`<pipeline>-<stage>`) with the caller's AWS credentials.
 */
export interface Target {
  readonly label: string;
  readonly pipeline: PipelineConfig;
  readonly names: TableNames;
  /** What the pipeline's schedule names start with (a `NightshiftPipeline` in a stack of its own has none). */
  readonly schedulePrefix: string;
  /** "Now" for ages and lease expiry: the end of the simulated run locally, the wall clock in AWS. */
  readonly clock: Clock;
  readonly client: DynamoDBDocumentClient;
  readonly locks: TaskLocks;
  readonly heartbeats: Heartbeats;
  readonly reader: MemoryReader;
  readonly breaker: Breaker;
  /** Each run's outcome, newest first. */
  readonly history: RunHistory;
  /** Whether each of the pipeline's schedules is enabled now. */
  scheduleStates(): Promise<Record<string, boolean>>;
  queueDepths(): Promise<{ queue: number; inFlight: number; deadLetters: number }>;
  /** Deployed only: runs the stack's redrive function (the one sender the steward believes redrive attributes from). */
  readonly redrive?: () => Promise<RedriveResult>;
  close(): Promise<void>;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What a finished local run recorded about itself (`run.json`). */
export interface LocalRun {
  readonly end: number;
  readonly memory: { readonly queued: number; readonly deadLetters: number };
  /** Each schedule's state when the run (or the last local command) ended. */
  readonly schedules?: Readonly<Record<string, boolean>>;
}

/** The state a finished local run left, served by a DynamoDB Local started on it (for commands that change it). */
export async function localTarget(pipeline: PipelineConfig, stateDir: string): Promise<Target> {
  const runFile = join(stateDir, 'run.json');
  if (!existsSync(runFile)) {
    throw new UsageError(`No finished local run in ${stateDir}: run \`npm start\` (nightshift local) first`);
  }
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as LocalRun;
  // Schedules as the last local command left them (a reset re-enables them), else as the run did.
  const snapshot = readSnapshotIfAny(stateDir);
  if (snapshot) Object.assign(run, { schedules: Object.fromEntries(snapshot.schedules.map((s) => [s.name, s.enabled])) });
  const dynamo: DynamoDbLocal = await startDynamoDbLocal({ dbPath: join(stateDir, 'dynamodb') });
  return localTargetOn(pipeline, stateDir, dynamo.endpoint, run, () => dynamo.stop());
}

/** A local run's state on a DynamoDB Local that is already running at `endpoint`. */
export function localTargetOn(pipeline: PipelineConfig, stateDir: string, endpoint: string, run: LocalRun, close: () => Promise<void> = async () => undefined): Target {
  const clock: Clock = { now: () => run.end, every: () => () => undefined };
  return assemble({
    label: `local run in ${stateDir}`,
    pipeline,
    names: tableNames(stackNameOf(pipeline.name, pipeline.stage)),
    clock,
    endpoints: { dynamodb: endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS },
    reset: 'local',
    schedules: localSchedules(pipeline, run),
    alerts: async (alert) => void process.stderr.write(`(local alert) ${alert.subject}\n`),
    queueDepths: async () => ({ queue: run.memory.queued, inFlight: 0, deadLetters: run.memory.deadLetters }),
    close,
  });
}

/**
 * A deployed pipeline, found by its stack's outputs: `<pipeline>-<stage>` (a `NightshiftStack`), or `stack` when the
 * pipeline is a `NightshiftPipeline` inside a stack of the user's own (its output keys prefixed by name and stage).
 */
export async function deployedTarget(pipeline: PipelineConfig, stage: string, stack?: string): Promise<Target> {
  const stackName = stack ?? stackNameOf(pipeline.name, stage);
  const { Stacks = [] } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const need = (output: StackOutputKey) => {
    const keys = [STACK_OUTPUT[output], outputKey(output, { name: pipeline.name, stage })];
    const value = keys.map((key) => outputs[key]).find(Boolean);
    if (!value) throw new UsageError(`Stack ${stackName} has no output ${keys.join(' or ')}: deploy it with this version of Nightshift (or name the stack that holds the pipeline with --stack)`);
    return value;
  };
  const sqs = new SQSClient({});
  const depth = async (queueUrl: string) => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
  };
  const queueUrl = need('memoryQueueUrl');
  const deadLetterQueueUrl = need('memoryDeadLetterQueueUrl');
  const sns = new SnsAlerts({ sns: new SNSClient({}), topicArn: need('alertTopicArn') });
  return assemble({
    schedulePrefix: schedulePrefix(pipeline, stack !== undefined),
    label: `stack ${stackName}`,
    pipeline: { ...pipeline, stage },
    names: { coordination: need('coordinationTable'), memory: need('memoryTable'), counters: need('counterTable') },
    clock: systemClock,
    endpoints: {},
    reset: { stage },
    schedules: new EventBridgeSchedules({
      scheduler: new SchedulerClient({}),
      groupName: need('scheduleGroup'),
      scheduleNames: breakerSpec(pipeline, schedulePrefix(pipeline, stack !== undefined)).scheduleNames,
    }),
    alerts: (alert) => sns.publish(alert),
    queueDepths: async () => {
      const [queue, dlq] = await Promise.all([depth(queueUrl), depth(deadLetterQueueUrl)]);
      return { queue: queue.visible, inFlight: queue.inFlight, deadLetters: dlq.visible + dlq.inFlight };
    },
    redrive: () => invokeRedrive(need('redriveFunction')),
    close: async () => undefined,
  });
}

interface Parts {
  label: string;
  schedulePrefix?: string;
  pipeline: PipelineConfig;
  names: TableNames;
  clock: Clock;
  endpoints: Endpoints;
  schedules: ScheduleSwitch;
  alerts: (alert: Alert) => Promise<void>;
  reset: BreakerWiring['reset'];
  queueDepths: Target['queueDepths'];
  redrive?: Target['redrive'];
  close: () => Promise<void>;
}

function assemble(parts: Parts): Target {
  const { names, clock, pipeline } = parts;
  const spec = breakerSpec(pipeline, parts.schedulePrefix);
  const wiring = new Wiring({ tables: names, clock, endpoints: parts.endpoints });
  return {
    label: parts.label,
    schedulePrefix: parts.schedulePrefix ?? '',
    pipeline,
    names,
    clock,
    client: wiring.dynamo,
    locks: wiring.locks(),
    heartbeats: wiring.heartbeats(),
    reader: wiring.reader(pipeline.agents.map((a) => a.id)),
    history: wiring.history(),
    scheduleStates: async () => {
      const enabled = new Set(await parts.schedules.enabled());
      return Object.fromEntries(spec.scheduleNames.map((name) => [name, enabled.has(name)]));
    },
    breaker: wireBreaker(wiring, { spec, alerts: { publish: parts.alerts }, schedules: parts.schedules, reset: parts.reset }),
    queueDepths: parts.queueDepths,
    ...(parts.redrive ? { redrive: parts.redrive } : {}),
    close: parts.close,
  };
}

/** Invokes the stack's redrive function and returns what it moved. */
async function invokeRedrive(functionName: string): Promise<RedriveResult> {
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  const response = await new LambdaClient({}).send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode('{}') }));
  const payload = response.Payload ? (JSON.parse(new TextDecoder().decode(response.Payload)) as unknown) : undefined;
  if (response.FunctionError) {
    const error = payload as { errorType?: string; errorMessage?: string } | undefined;
    throw new NightshiftError(`redrive failed (${error?.errorType ?? response.FunctionError}): ${error?.errorMessage ?? 'no message'}`);
  }
  return payload as RedriveResult;
}

/** The local schedules as the run left them (all enabled if it recorded none). */
function localSchedules(pipeline: PipelineConfig, run: LocalRun): LocalSchedules {
  const schedules = new LocalSchedules(breakerSpec(pipeline).scheduleNames);
  for (const [name, enabled] of Object.entries(run.schedules ?? {})) schedules.state.set(name, enabled);
  return schedules;
}
