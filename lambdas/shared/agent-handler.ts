import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRICS_NAMESPACE } from '../../src/contract/metrics.ts';
import { parseAgentEnvironment } from '../../src/contract/environment.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { describeTrigger, parseInvocation, taskIdOf } from '../../src/runtime/invocation.ts';
import type { MetricsSink } from '../../src/runtime/metrics.ts';
import type { ModelProvider } from '../../src/runtime/model/model.ts';
import { once } from '../../src/runtime/once.ts';
import { type AgentContext, type RunOutcome, runAgent } from '../../src/runtime/run-lifecycle.ts';
import type { Publishers, SecretSource } from '../../src/runtime/run-context.ts';
import { NightshiftError } from '../../src/errors.ts';
import { RunHistory } from '../../src/runtime/run-history.ts';
import { type Runtime, Wiring } from '../../src/runtime/wiring.ts';
import { lambdaBreakerTransport } from './breaker-transport.ts';
import { tracingFromEnvironment } from './tracing.ts';
import { TitanEmbedder } from '../../src/runtime/memory/embedder.ts';
import { EventBridgeOutputs } from '../../src/runtime/output-events.ts';

/** One Bedrock client per sandbox, its SDK loaded with the first embedding. */
const bedrockClient = once(async () => new (await import('@aws-sdk/client-bedrock-runtime')).BedrockRuntimeClient({}));

const logger = new Logger();
const metrics = new Metrics({ namespace: METRICS_NAMESPACE });
const metricsSink: MetricsSink = { count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value) };

export type AgentWork<R> = (context: AgentContext) => Promise<R>;

/** The runtime from the function's environment (written by the `Agent` construct), built once per sandbox. */
async function runtimeFromEnvironment(): Promise<Runtime> {
  const env = parseAgentEnvironment();
  const wiring = new Wiring({
    tables: { coordination: env.coordinationTable, memory: env.memoryTable, counters: env.counterTable },
    clock: systemClock,
    metrics: metricsSink,
    instrument: await tracingFromEnvironment(),
    // Loaded with the run's first memory update: a run that writes none does not carry the SQS client.
    sqs: async (config) => new (await import('@aws-sdk/client-sqs')).SQSClient(config),
    ...(env.embeddingDimensions ? { embedder: new TitanEmbedder({ client: bedrockClient, dimensions: env.embeddingDimensions }) } : {}),
  });
  // The breaker's state is read here; every change to it is asked of the breaker function, through this agent's alias.
  const breaker = wiring.remoteBreaker(lambdaBreakerTransport(env.breakerFunction));
  return {
    spec: env.agentSpec,
    history: wiring.history(),
    deps: wiring.guardDeps({
      outputs: wiring.outputs(breaker),
      queue: { queueUrl: env.memoryQueueUrl },
      ...(env.agentSpec.model ? { model: modelProvider(env.modelProvider, env.modelProfileArn) } : {}),
      ...(env.agentSpec.secrets ? { secrets: parameterSecrets() } : {}),
      ...(env.eventBusName ? { outputEvents: new EventBridgeOutputs({ client: once(async () => new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient({})), busName: env.eventBusName }) } : {}),
      log: { info: (message, extra) => logger.info(message, extra ?? {}), warn: (message, extra) => logger.warn(message, extra ?? {}) },
    }),
  };
}

/**
 * Secrets through Powertools Parameters (SSM SecureString decrypted, or Secrets Manager), each cached five minutes
 * in the sandbox; the clients are imported with the first read.
 */
function parameterSecrets(): SecretSource {
  const MAX_AGE = 300;
  return async (_name, where) => {
    if (where.parameter) {
      const { getParameter } = await import('@aws-lambda-powertools/parameters/ssm');
      const value = await getParameter(where.parameter, { decrypt: true, maxAge: MAX_AGE });
      if (value === undefined) throw new NightshiftError(`SSM parameter ${where.parameter} has no value`);
      return value;
    }
    const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
    const value = await getSecret(where.secret!, { maxAge: MAX_AGE });
    if (typeof value !== 'string') throw new NightshiftError(`secret ${where.secret} is not a string secret`);
    return value;
  };
}

/** The model provider, its SDK client imported when the first call is made (not every agent run calls a model). */
function modelProvider(kind: 'bedrock' | 'offline', profileArn: string | undefined): ModelProvider {
  const load = once(async (): Promise<ModelProvider> => {
    if (kind === 'offline') return new (await import('../../src/runtime/model/offline.ts')).OfflineProvider();
    const [{ BedrockRuntimeClient }, { BedrockProvider }] = await Promise.all([
      import('@aws-sdk/client-bedrock-runtime'),
      import('../../src/runtime/model/bedrock.ts'),
    ]);
    // The provider retries throttling itself, bounded by the run's lease: the SDK must not retry underneath it.
    // Every call goes to the agent's own inference profile, the one way IAM lets its role reach its model.
    return new BedrockProvider({ client: new BedrockRuntimeClient({ maxAttempts: 1 }), clock: systemClock, ...(profileArn ? { invokeAs: profileArn } : {}) });
  });
  return { name: kind, converse: async (request) => (await load()).converse(request) };
}

/**
 * The Lambda handler of an agent: parse the Scheduler invocation, run the work inside the guard (task lock,
 * heartbeats, degraded mode, breaker), record the run, publish metrics. The agent is the one its runtime's spec
 * names (the config's id, from the environment in Lambda), so an agent module only exports its `work` (and the
 * named side effects of its outputs, `publishers`); the `Agent` construct bundles this handler around it. Local mode builds the same handler over its own runtime.
 */
export function agentHandler<R>(work: AgentWork<R>, runtimeFactory: () => Runtime | Promise<Runtime> = runtimeFromEnvironment, publishers?: Publishers) {
  let runtime: Runtime | undefined;
  return async (event: unknown, context?: Context): Promise<RunOutcome<R>> => {
    if (context) logger.addContext(context);
    runtime ??= await runtimeFactory();
    const { deps, spec, history } = runtime;
    logger.appendKeys({ agentId: spec.id });
    const invocation = parseInvocation(event, spec, deps.clock.now());
    const startedAt = deps.clock.now();
    const record = async (result: { outcome: RunOutcome<R> } | { error: unknown }) => {
      const entry = RunHistory.entry(spec.id, taskIdOf(invocation), startedAt, deps.clock.now(), result, describeTrigger(invocation.trigger, invocation.publishHeld), {
        event,
        replayOf: invocation.replayOf,
      });
      // The run's outcome stands whether or not its history could be written.
      await history?.record(entry).catch((error: unknown) => logger.warn('could not record the run', { error: String(error) }));
    };
    try {
      const outcome = await runAgent(publishers ? { ...deps, publishers } : deps, spec, invocation, work);
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
