import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { AgentSpec } from '../../src/config/agent-spec';
import { systemClock } from '../../src/runtime/clock';
import { type AgentContext, type GuardDeps, type RunOutcome, runAgent, slotTaskId } from '../../src/runtime/guard';
import { RunHistory } from '../../src/runtime/run-history';
import { Heartbeats } from '../../src/runtime/heartbeats';
import { parseInvocation } from '../../src/runtime/invocation';
import { TaskLocks } from '../../src/runtime/locks';
import { MemoryClient } from '../../src/runtime/memory/client';
import { MemoryReader } from '../../src/runtime/memory/reader';
import { ContextRetriever } from '../../src/runtime/memory/retrieval';
import type { ModelProvider } from '../../src/runtime/model/model';
import { OutputGuard } from '../../src/runtime/breaker/output-guard';
import { OutputWindows } from '../../src/runtime/breaker/output-window';
import { breakerFromEnvironment } from './breaker-from-environment';
import { agentEnvironment } from './environment';
import { once } from '../../src/runtime/once';
import { type Capture, tracingFromEnvironment } from './tracing';

const logger = new Logger();
const metrics = new Metrics({ namespace: 'Nightshift' });
const metricsSink = { count: (name: string, value = 1) => metrics.addMetric(name, MetricUnit.Count, value) };

export type AgentWork<R> = (context: AgentContext) => Promise<R>;

/** The guard's dependencies and the agent's spec: from the environment in Lambda, from the local runner locally. */
export interface Runtime {
  readonly deps: GuardDeps;
  readonly spec: AgentSpec;
  /** Where each run's outcome is recorded for `nightshift runs`. @default - not recorded */
  readonly history?: RunHistory;
}

/** Clients and config from the environment, built on first use and kept for the sandbox's lifetime. */
function runtimeFromEnvironment(agentId: string, capture: Capture): Runtime {
  const env = agentEnvironment();
  if (env.NIGHTSHIFT_AGENT_SPEC.id !== agentId) {
    throw new Error(`Handler for '${agentId}' was deployed with the spec of '${env.NIGHTSHIFT_AGENT_SPEC.id}'`);
  }
  const client = DynamoDBDocumentClient.from(capture(new DynamoDBClient({})), { marshallOptions: { removeUndefinedValues: true } });
  const tableName = env.COORDINATION_TABLE;
  const breakerSpec = env.NIGHTSHIFT_BREAKER_SPEC;
  const outputs = new OutputGuard({
    breaker: breakerFromEnvironment(env, client, systemClock, metricsSink),
    windows: new OutputWindows({ client, tableName: env.COUNTER_TABLE, clock: systemClock }),
    pipelineLimit: { maxOutputs: breakerSpec.maxOutputs, windowMinutes: breakerSpec.windowMinutes },
    metrics: metricsSink,
  });
  return {
    spec: env.NIGHTSHIFT_AGENT_SPEC,
    history: new RunHistory({ client, tableName, clock: systemClock }),
    deps: {
      locks: new TaskLocks({ client, tableName, clock: systemClock, metrics: metricsSink }),
      heartbeats: new Heartbeats({ client, tableName, clock: systemClock, metrics: metricsSink }),
      clock: systemClock,
      metrics: metricsSink,
      outputs,
      memory: {
        client: new MemoryClient({ sqs: capture(new SQSClient({})), queueUrl: env.MEMORY_QUEUE_URL }),
        reader: new MemoryReader({ client, tableName: env.MEMORY_TABLE }),
        retriever: new ContextRetriever({ client, tableName: env.MEMORY_TABLE }),
      },
      ...(env.NIGHTSHIFT_AGENT_SPEC.model ? { model: modelProvider(env.NIGHTSHIFT_MODEL_PROVIDER) } : {}),
      log: { info: (message, extra) => logger.info(message, extra ?? {}), warn: (message, extra) => logger.warn(message, extra ?? {}) },
    },
  };
}

/** The model provider, its SDK client imported when the first call is made (not every agent run calls a model). */
function modelProvider(kind: 'bedrock' | 'offline'): ModelProvider {
  const load = once(async (): Promise<ModelProvider> => {
    if (kind === 'offline') return new (await import('../../src/runtime/model/offline')).OfflineProvider();
    const [{ BedrockRuntimeClient }, { BedrockProvider }] = await Promise.all([
      import('@aws-sdk/client-bedrock-runtime'),
      import('../../src/runtime/model/bedrock'),
    ]);
    // The provider retries throttling itself, bounded by the run's lease: the SDK must not retry underneath it.
    return new BedrockProvider({ client: new BedrockRuntimeClient({ maxAttempts: 1 }), clock: systemClock });
  });
  return { name: kind, converse: async (request) => (await load()).converse(request) };
}

/**
 * The Lambda handler every agent exports: parse the Scheduler invocation, run the work inside the guard (task lock,
 * heartbeats, degraded mode, breaker), publish metrics. Agents differ only in their work function. The local runner
 * builds the same handler over its own runtime (local endpoints, accelerated clock).
 */
export function agentHandler<R>(
  agentId: string,
  work: AgentWork<R>,
  runtimeFactory: () => Runtime | Promise<Runtime> = async () => runtimeFromEnvironment(agentId, await tracingFromEnvironment()),
) {
  let runtime: Runtime | undefined;
  return async (event: unknown, context?: Context): Promise<RunOutcome<R>> => {
    if (context) logger.addContext(context);
    logger.appendKeys({ agentId });
    runtime ??= await runtimeFactory();
    const invocation = parseInvocation(event, agentId);
    const { deps, spec, history } = runtime;
    const startedAt = deps.clock.now();
    const record = async (result: { outcome: RunOutcome<R> } | { error: unknown }) => {
      const entry = RunHistory.entry(agentId, slotTaskId(agentId, invocation.scheduledTime), startedAt, deps.clock.now(), result);
      // The run's outcome stands whether or not its history could be written.
      await history?.record(entry).catch((error: unknown) => logger.warn('could not record the run', { error: String(error) }));
    };
    try {
      const outcome = await runAgent(deps, spec, invocation, work);
      logger.info('run finished', { status: outcome.status, taskId: outcome.taskId });
      await record({ outcome });
      return outcome;
    } catch (error) {
      await record({ error });
      throw error;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
