import * as z from 'zod/mini';
import { type AgentSpec, type BreakerSpec, agentSpecSchema, breakerSpecSchema } from '../config/agent-spec.ts';
import { type WatchSpec, watchSpecSchema } from '../config/watch-spec.ts';
import { NightshiftError } from '../errors.ts';
import { describeIssues, jsonText } from '../runtime/schema.ts';
import { METRICS_NAMESPACE } from './metrics.ts';

/**
 * The environment of every Nightshift function: the stack writes it with the builders here (`lib/`), the handlers
 * read it with the parsers here (`lambdas/`), so a variable's name and form are spelled once. Values may be CDK
 * tokens at synth time; the parsers see what they resolved to.
 */

/** A function deployed without the environment the stack gives it; names the variable and the problem. */
export class EnvironmentError extends NightshiftError {
  override readonly name = 'EnvironmentError';
}

/** Where `ctx.model` calls go: Amazon Bedrock, or the offline provider (no model is called). */
export type ModelProviderKind = 'bedrock' | 'offline';

/** What the breaker needs: its table, the alert topic, the schedule group it may switch, its spec. */
export interface BreakerEnvironment {
  readonly counterTable: string;
  readonly alertTopicArn: string;
  readonly scheduleGroup: string;
  readonly breakerSpec: BreakerSpec;
}

/**
 * What an agent function needs: its tables, the queue it submits to, its spec, and the breaker function it asks
 * (through its own alias) for every change to the breaker. No alert topic, no schedule group: those are the breaker
 * function's.
 */
export interface AgentEnvironment {
  readonly counterTable: string;
  /** The breaker function's ARN qualified by this agent's alias. */
  readonly breakerFunction: string;
  readonly coordinationTable: string;
  readonly memoryTable: string;
  readonly memoryQueueUrl: string;
  readonly agentSpec: AgentSpec;
  /** @default 'bedrock' */
  readonly modelProvider?: ModelProviderKind;
  /** Titan V2's dimensions when retrieval ranks by meaning too (it embeds the query). @default - words only */
  readonly embeddingDimensions?: EmbeddingDimensions;
  /** The pipeline's event bus, for an agent others run on: its published outputs go there. @default - none */
  readonly eventBusName?: string;
  /** The agent's own application inference profile: what its model calls go to (IAM allows no other way). @default - none */
  readonly modelProfileArn?: string;
}

export type EmbeddingDimensions = 256 | 512 | 1024;

/** An agent the steward accepts updates from: the role it sends with (SQS's SenderId), and what it may write. */
export interface WriterGrant {
  readonly principal: string;
  readonly agentId: string;
  readonly writes: readonly string[];
  /** The namespaces among `writes` it may pin entries in. */
  readonly pins: readonly string[];
  /** Its quota of updates the steward applies in any 60 minutes. @default - none */
  readonly updatesPerHour?: number;
  /** Whether the steward keeps receipts of its updates (others run on its outputs). @default false */
  readonly receipts?: boolean;
}

/** What the steward needs. `writers` is JSON of {@link WriterGrant}[] (a token at synth time: the roles' ids). */
export interface StewardEnvironment {
  readonly memoryTable: string;
  readonly writers: string;
  /** The redrive function's role id: the one sender whose redrive attributes the steward believes. */
  readonly redriver: string;
}

/** What the embedder function needs: the memory table and Titan V2's dimensions. */
export interface EmbedderEnvironment {
  readonly memoryTable: string;
  readonly embeddingDimensions: EmbeddingDimensions;
}

/** What the watch function needs: where the pipeline keeps its state, the queues, the topic, what to watch. */
export interface WatchEnvironment {
  readonly coordinationTable: string;
  readonly memoryTable: string;
  readonly counterTable: string;
  readonly memoryQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly scheduleDeadLetterQueueUrl: string;
  /** Each agent's own dead-letter queue for invocations that never ran, by agent id. */
  readonly agentDeadLetterQueueUrls: Readonly<Record<string, string>>;
  /** Where alerts that could not be delivered are kept: the topic's subscriptions' and the pager forwarder's. */
  readonly alertFailureQueueUrls: readonly string[];
  /** Where the embedder notes the stream records it gave up on. @default - no embedder */
  readonly embedderFailureQueueUrl?: string;
  readonly alertTopicArn: string;
  readonly watchSpec: WatchSpec;
}

/** What the redrive function needs: both queues, and its own role's id (it carries over only what it sent). */
export interface RedriveEnvironment {
  readonly memoryQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly redriver: string;
}

const VARIABLES = {
  counterTable: 'COUNTER_TABLE',
  alertTopicArn: 'ALERT_TOPIC_ARN',
  scheduleGroup: 'SCHEDULE_GROUP',
  breakerSpec: 'NIGHTSHIFT_BREAKER_SPEC',
  coordinationTable: 'COORDINATION_TABLE',
  memoryTable: 'MEMORY_TABLE',
  memoryQueueUrl: 'MEMORY_QUEUE_URL',
  agentSpec: 'NIGHTSHIFT_AGENT_SPEC',
  modelProvider: 'NIGHTSHIFT_MODEL_PROVIDER',
  writers: 'NIGHTSHIFT_WRITERS',
  breakerFunction: 'BREAKER_FUNCTION',
  redriver: 'NIGHTSHIFT_REDRIVER',
  deadLetterQueueUrl: 'MEMORY_DEAD_LETTER_QUEUE_URL',
  scheduleDeadLetterQueueUrl: 'SCHEDULE_DEAD_LETTER_QUEUE_URL',
  alertFailureQueueUrls: 'ALERT_FAILURE_QUEUE_URLS',
  agentDeadLetterQueueUrls: 'AGENT_DEAD_LETTER_QUEUE_URLS',
  embedderFailureQueueUrl: 'EMBEDDER_FAILURE_QUEUE_URL',
  watchSpec: 'NIGHTSHIFT_WATCH_SPEC',
  pagerWebhookParameter: 'PAGER_WEBHOOK_PARAMETER',
  tracing: 'NIGHTSHIFT_TRACING',
  embeddingDimensions: 'NIGHTSHIFT_EMBEDDING_DIMENSIONS',
  eventBusName: 'NIGHTSHIFT_EVENT_BUS',
  modelProfileArn: 'NIGHTSHIFT_MODEL_PROFILE_ARN',
} as const;

/** Where the `Agent` construct puts the ARN of the agent's own application inference profile. */
export const MODEL_PROFILE_VARIABLE = VARIABLES.modelProfileArn;

function embeddingVariables(dimensions: EmbeddingDimensions | undefined): Record<string, string> {
  return dimensions === undefined ? {} : { [VARIABLES.embeddingDimensions]: String(dimensions) };
}

/** Variables every function gets: its Powertools service name and metrics namespace. */
export function commonVariables(service: string): Record<string, string> {
  return { POWERTOOLS_SERVICE_NAME: service, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE };
}

/** The breaker's variables: the breaker function's and the watchdog's whole environment. */
export function breakerVariables(env: BreakerEnvironment): Record<string, string> {
  return {
    [VARIABLES.counterTable]: env.counterTable,
    [VARIABLES.alertTopicArn]: env.alertTopicArn,
    [VARIABLES.scheduleGroup]: env.scheduleGroup,
    [VARIABLES.breakerSpec]: JSON.stringify(env.breakerSpec),
  };
}

/** An agent function's variables. */
export function agentVariables(env: AgentEnvironment): Record<string, string> {
  return {
    [VARIABLES.counterTable]: env.counterTable,
    [VARIABLES.breakerFunction]: env.breakerFunction,
    [VARIABLES.coordinationTable]: env.coordinationTable,
    [VARIABLES.memoryTable]: env.memoryTable,
    [VARIABLES.memoryQueueUrl]: env.memoryQueueUrl,
    [VARIABLES.agentSpec]: JSON.stringify(env.agentSpec),
    ...(env.modelProvider && env.modelProvider !== 'bedrock' ? { [VARIABLES.modelProvider]: env.modelProvider } : {}),
    ...embeddingVariables(env.embeddingDimensions),
    ...(env.eventBusName ? { [VARIABLES.eventBusName]: env.eventBusName } : {}),
  };
}

/** The steward's variables: its table and who may write what. */
export function stewardVariables(env: StewardEnvironment): Record<string, string> {
  return { [VARIABLES.memoryTable]: env.memoryTable, [VARIABLES.writers]: env.writers, [VARIABLES.redriver]: env.redriver };
}

/** The embedder function's variables. */
export function embedderVariables(env: EmbedderEnvironment): Record<string, string> {
  return { [VARIABLES.memoryTable]: env.memoryTable, ...embeddingVariables(env.embeddingDimensions) };
}

/** The watch function's variables. */
export function watchVariables(env: WatchEnvironment): Record<string, string> {
  return {
    [VARIABLES.coordinationTable]: env.coordinationTable,
    [VARIABLES.memoryTable]: env.memoryTable,
    [VARIABLES.counterTable]: env.counterTable,
    [VARIABLES.memoryQueueUrl]: env.memoryQueueUrl,
    [VARIABLES.deadLetterQueueUrl]: env.deadLetterQueueUrl,
    [VARIABLES.scheduleDeadLetterQueueUrl]: env.scheduleDeadLetterQueueUrl,
    [VARIABLES.alertFailureQueueUrls]: JSON.stringify(env.alertFailureQueueUrls),
    [VARIABLES.agentDeadLetterQueueUrls]: JSON.stringify(env.agentDeadLetterQueueUrls),
    ...(env.embedderFailureQueueUrl ? { [VARIABLES.embedderFailureQueueUrl]: env.embedderFailureQueueUrl } : {}),
    [VARIABLES.alertTopicArn]: env.alertTopicArn,
    [VARIABLES.watchSpec]: JSON.stringify(env.watchSpec),
  };
}

/** The redrive function's variables. */
export function redriveVariables(env: RedriveEnvironment): Record<string, string> {
  return { [VARIABLES.memoryQueueUrl]: env.memoryQueueUrl, [VARIABLES.deadLetterQueueUrl]: env.deadLetterQueueUrl, [VARIABLES.redriver]: env.redriver };
}

/** The pager forwarder's variable: the SSM parameter holding the webhook URL (never the URL). */
export function pagerVariables(parameterName: string): Record<string, string> {
  return { [VARIABLES.pagerWebhookParameter]: parameterName };
}

/** Turns on Powertools Tracer in the handler (with Lambda's active tracing). */
export function tracingVariables(on: boolean): Record<string, string> {
  return on ? { [VARIABLES.tracing]: 'true' } : {};
}

const nonEmpty = () => z.string().check(z.minLength(1));

const breakerSchema = z.object({
  [VARIABLES.counterTable]: nonEmpty(),
  [VARIABLES.alertTopicArn]: nonEmpty(),
  [VARIABLES.scheduleGroup]: nonEmpty(),
  [VARIABLES.breakerSpec]: z.pipe(jsonText, breakerSpecSchema),
});

const agentSchema = z.object({
  [VARIABLES.counterTable]: nonEmpty(),
  [VARIABLES.breakerFunction]: nonEmpty(),
  [VARIABLES.coordinationTable]: nonEmpty(),
  [VARIABLES.memoryTable]: nonEmpty(),
  [VARIABLES.memoryQueueUrl]: nonEmpty(),
  [VARIABLES.agentSpec]: z.pipe(jsonText, agentSpecSchema),
  [VARIABLES.modelProvider]: z._default(z.enum(['bedrock', 'offline']), 'bedrock'),
  [VARIABLES.embeddingDimensions]: z.optional(z.enum(['256', '512', '1024'])),
  [VARIABLES.eventBusName]: z.optional(nonEmpty()),
  [VARIABLES.modelProfileArn]: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:application-inference-profile\/[a-z0-9]+$/, 'must be an application inference profile ARN'))),
});

const stewardSchema = z.object({
  [VARIABLES.memoryTable]: nonEmpty(),
  [VARIABLES.writers]: z.pipe(jsonText, z.array(z.object({ principal: nonEmpty(), agentId: nonEmpty(), writes: z.array(z.string()), pins: z._default(z.array(z.string()), []), updatesPerHour: z.optional(z.int().check(z.positive())), receipts: z.optional(z.boolean()) }))),
  [VARIABLES.redriver]: nonEmpty(),
});

const embedderSchema = z.object({
  [VARIABLES.memoryTable]: nonEmpty(),
  [VARIABLES.embeddingDimensions]: z.enum(['256', '512', '1024']),
});

const watchSchema = z.object({
  [VARIABLES.coordinationTable]: nonEmpty(),
  [VARIABLES.memoryTable]: nonEmpty(),
  [VARIABLES.counterTable]: nonEmpty(),
  [VARIABLES.memoryQueueUrl]: nonEmpty(),
  [VARIABLES.deadLetterQueueUrl]: nonEmpty(),
  [VARIABLES.scheduleDeadLetterQueueUrl]: nonEmpty(),
  [VARIABLES.alertFailureQueueUrls]: z.pipe(jsonText, z.array(nonEmpty())),
  [VARIABLES.agentDeadLetterQueueUrls]: z._default(z.pipe(jsonText, z.record(z.string(), nonEmpty())), {}),
  [VARIABLES.embedderFailureQueueUrl]: z.optional(nonEmpty()),
  [VARIABLES.alertTopicArn]: nonEmpty(),
  [VARIABLES.watchSpec]: z.pipe(jsonText, watchSpecSchema),
});

const redriveSchema = z.object({
  [VARIABLES.memoryQueueUrl]: nonEmpty(),
  [VARIABLES.deadLetterQueueUrl]: nonEmpty(),
  [VARIABLES.redriver]: nonEmpty(),
});

function parse<S extends z.ZodMiniType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw new EnvironmentError(`${what} environment is incomplete: ${describeIssues(result.error, '(environment)')}`);
  return result.data;
}

/** Reads what the stack gives the breaker function and the watchdog. */
export function parseBreakerEnvironment(env: NodeJS.ProcessEnv = process.env): BreakerEnvironment {
  const e = parse(breakerSchema, env, 'Breaker');
  return { counterTable: e.COUNTER_TABLE, alertTopicArn: e.ALERT_TOPIC_ARN, scheduleGroup: e.SCHEDULE_GROUP, breakerSpec: e.NIGHTSHIFT_BREAKER_SPEC };
}

/** Reads what the `Agent` construct puts in an agent function's environment. */
export function parseAgentEnvironment(env: NodeJS.ProcessEnv = process.env): Required<Omit<AgentEnvironment, 'embeddingDimensions' | 'eventBusName' | 'modelProfileArn'>> & Pick<AgentEnvironment, 'embeddingDimensions' | 'eventBusName' | 'modelProfileArn'> {
  const e = parse(agentSchema, env, 'Agent');
  return {
    ...dimensionsOf(e.NIGHTSHIFT_EMBEDDING_DIMENSIONS),
    ...(e.NIGHTSHIFT_EVENT_BUS ? { eventBusName: e.NIGHTSHIFT_EVENT_BUS } : {}),
    ...(e.NIGHTSHIFT_MODEL_PROFILE_ARN ? { modelProfileArn: e.NIGHTSHIFT_MODEL_PROFILE_ARN } : {}),
    counterTable: e.COUNTER_TABLE,
    breakerFunction: e.BREAKER_FUNCTION,
    coordinationTable: e.COORDINATION_TABLE,
    memoryTable: e.MEMORY_TABLE,
    memoryQueueUrl: e.MEMORY_QUEUE_URL,
    agentSpec: e.NIGHTSHIFT_AGENT_SPEC,
    modelProvider: e.NIGHTSHIFT_MODEL_PROVIDER,
  };
}

/** Reads the steward's environment, its writers parsed. */
export function parseStewardEnvironment(env: NodeJS.ProcessEnv = process.env): { memoryTable: string; writers: readonly WriterGrant[]; redriver: string } {
  const e = parse(stewardSchema, env, 'Steward');
  return { memoryTable: e.MEMORY_TABLE, writers: e.NIGHTSHIFT_WRITERS, redriver: e.NIGHTSHIFT_REDRIVER };
}

/** Reads the embedder function's environment. */
export function parseEmbedderEnvironment(env: NodeJS.ProcessEnv = process.env): EmbedderEnvironment {
  const e = parse(embedderSchema, env, 'Embedder');
  return { memoryTable: e.MEMORY_TABLE, embeddingDimensions: Number(e.NIGHTSHIFT_EMBEDDING_DIMENSIONS) as EmbeddingDimensions };
}

function dimensionsOf(value: string | undefined): { embeddingDimensions?: EmbeddingDimensions } {
  return value === undefined ? {} : { embeddingDimensions: Number(value) as EmbeddingDimensions };
}

/** Reads the watch function's environment. */
export function parseWatchEnvironment(env: NodeJS.ProcessEnv = process.env): WatchEnvironment {
  const e = parse(watchSchema, env, 'Watch');
  return {
    coordinationTable: e.COORDINATION_TABLE,
    memoryTable: e.MEMORY_TABLE,
    counterTable: e.COUNTER_TABLE,
    memoryQueueUrl: e.MEMORY_QUEUE_URL,
    deadLetterQueueUrl: e.MEMORY_DEAD_LETTER_QUEUE_URL,
    scheduleDeadLetterQueueUrl: e.SCHEDULE_DEAD_LETTER_QUEUE_URL,
    alertFailureQueueUrls: e.ALERT_FAILURE_QUEUE_URLS,
    agentDeadLetterQueueUrls: e.AGENT_DEAD_LETTER_QUEUE_URLS,
    ...(e.EMBEDDER_FAILURE_QUEUE_URL ? { embedderFailureQueueUrl: e.EMBEDDER_FAILURE_QUEUE_URL } : {}),
    alertTopicArn: e.ALERT_TOPIC_ARN,
    watchSpec: e.NIGHTSHIFT_WATCH_SPEC,
  };
}

/** Reads the redrive function's environment. */
export function parseRedriveEnvironment(env: NodeJS.ProcessEnv = process.env): RedriveEnvironment {
  const e = parse(redriveSchema, env, 'Redrive');
  return { memoryQueueUrl: e.MEMORY_QUEUE_URL, deadLetterQueueUrl: e.MEMORY_DEAD_LETTER_QUEUE_URL, redriver: e.NIGHTSHIFT_REDRIVER };
}

/** The SSM parameter holding the pager webhook URL. */
export function parsePagerEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return parse(z.object({ [VARIABLES.pagerWebhookParameter]: z.string().check(z.startsWith('/')) }), env, 'Pager forwarder').PAGER_WEBHOOK_PARAMETER;
}

/** Whether the stack turned tracing on for this function. */
export function tracingOn(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[VARIABLES.tracing] === 'true';
}
