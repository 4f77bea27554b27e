import { UnknownNameError } from '../errors.ts';
import * as z from 'zod/mini';
import type { PipelineConfig } from './pipeline.ts';
import { triggeredBy } from './trigger-routes.ts';

/**
 * What the runtime needs to know about one agent: its own limits and the staleness limit of each upstream. Built
 * from the pipeline config at synth time and handed to the function as JSON in `NIGHTSHIFT_AGENT_SPEC`, or built
 * directly by the local runner.
 */
function nonEmpty() {
  return z.string().check(z.minLength(1));
}

function positiveInt() {
  return z.int().check(z.positive());
}

export const agentSpecSchema = z.object({
  id: nonEmpty(),
  leaseMinutes: z.number().check(z.positive()),
  heartbeatIntervalMinutes: z.number().check(z.positive()),
  /** Each upstream with its own `staleAfterMinutes`: an upstream declares how long its silence means death. */
  upstream: z.array(z.object({ id: nonEmpty(), staleAfterMinutes: z.number().check(z.positive()) })),
  breaker: z.object({ maxOutputs: positiveInt(), windowMinutes: positiveInt() }),
  tokenBudgetPerDay: z.optional(positiveInt()),
  /** Identical content published again within this window is suppressed. */
  duplicateWindowMinutes: positiveInt(),
  /** The namespaces it reads whose pinned entries retrieval puts first (the config's `pinnable`). @default none */
  pinnable: z.optional(z.array(nonEmpty())),
  /** The model `ctx.model` calls, and the default output limit per call. */
  model: z.optional(z.object({ id: nonEmpty(), maxTokens: positiveInt() })),
  /** `ctx.secret(name)`: where each secret lives (a parameter or secret name, never a value). */
  secrets: z.optional(z.record(z.string(), z.object({ parameter: z.optional(nonEmpty()), secret: z.optional(nonEmpty()) }))),
  /** What runs it besides its schedules: a triggering event is checked against these before anything runs. */
  triggers: z.optional(
    z.array(
      z.union([
        z.object({ outputsOf: nonEmpty(), maxPerHour: z.optional(positiveInt()), waitForMemorySeconds: z.optional(z.int().check(z.minimum(0), z.maximum(900))) }),
        z.object({ event: z.object({ source: z.array(nonEmpty()), detailType: z.optional(z.array(z.string())), bus: z.enum(['pipeline', 'default']), maxPerHour: z.optional(positiveInt()) }) }),
      ]),
    ),
  ),
  /** Whether some agent runs on this one's outputs: each output it publishes then goes onto the pipeline's bus. */
  publishOutputs: z.optional(z.boolean()),
  /** When its outputs wait for a person (the config's `review`). @default - never */
  review: z.optional(z.object({ when: z.array(z.enum(['always', 'degraded', 'after-trip', 'budget'])), expiresAfterHours: positiveInt(), onExpiry: z.enum(['discard', 'publish']) })),
});

export type AgentSpec = z.output<typeof agentSpecSchema>;

export function agentSpec(pipeline: PipelineConfig, agentId: string): AgentSpec {
  const byId = new Map(pipeline.agents.map((a) => [a.id, a]));
  const agent = byId.get(agentId);
  if (!agent) throw new UnknownNameError(`No agent '${agentId}' in pipeline '${pipeline.name}'`);
  return {
    id: agent.id,
    leaseMinutes: agent.lock.leaseMinutes,
    heartbeatIntervalMinutes: agent.heartbeat.intervalMinutes,
    upstream: agent.upstream.map((id) => ({ id, staleAfterMinutes: byId.get(id)!.heartbeat.staleAfterMinutes })),
    breaker: agent.breaker,
    duplicateWindowMinutes: agent.duplicateWindowMinutes,
    ...(agent.memory.reads.some((ns) => pipeline.pinnable.includes(ns)) ? { pinnable: agent.memory.reads.filter((ns) => pipeline.pinnable.includes(ns)) } : {}),
    // An output trigger is limited to what its upstream's own breaker limit lets it publish in an hour: its role can
    // put output events on the bus without going through the breaker, and must not run this agent without limit.
    ...(agent.triggers.length > 0
      ? {
          triggers: agent.triggers.map((t) => {
            if (!('outputsOf' in t)) return t;
            const limit = byId.get(t.outputsOf)?.breaker;
            return limit ? { ...t, maxPerHour: Math.ceil(60 / limit.windowMinutes) * limit.maxOutputs } : t;
          }),
        }
      : {}),
    ...(triggeredBy(pipeline.agents, agent.id).length > 0 ? { publishOutputs: true } : {}),
    ...(agent.tokenBudgetPerDay === undefined ? {} : { tokenBudgetPerDay: agent.tokenBudgetPerDay }),
    ...(agent.review ? { review: { when: agent.review.when, expiresAfterHours: agent.review.expiresAfterHours, onExpiry: agent.review.onExpiry } } : {}),
    ...(agent.model ? { model: { id: agent.model.id, maxTokens: agent.model.maxTokens } } : {}),
    // Where each secret lives; a local value stays in the config, out of every deployed spec.
    ...(Object.keys(agent.secrets).length
      ? { secrets: Object.fromEntries(Object.entries(agent.secrets).map(([name, { parameter, secret }]) => [name, parameter ? { parameter } : { secret: secret! }])) }
      : {}),
  };
}

/** The name of an agent's `index`th schedule in the pipeline's schedule group (the Agent construct uses it too). */
export function scheduleName(agentId: string, index: number, prefix = ''): string {
  return `${prefix}${agentId}-${index}`;
}

/**
 * What a pipeline's schedule names start with: nothing in a stack of its own (`NightshiftStack`), its name and stage
 * when it shares a stack (`NightshiftPipeline`), since CloudFormation identifies a schedule by its name alone.
 */
export function schedulePrefix(pipeline: Pick<PipelineConfig, 'name' | 'stage'>, embedded: boolean): string {
  return embedded ? `${pipeline.name}-${pipeline.stage}-` : '';
}

/**
 * What the breaker needs to know about the whole pipeline: its label, the pipeline-wide limit, the cool-down, and
 * the names of every agent schedule it may switch off. Handed to functions as `NIGHTSHIFT_BREAKER_SPEC`.
 */
export const breakerSpecSchema = z.object({
  pipeline: nonEmpty(),
  stage: nonEmpty(),
  maxOutputs: positiveInt(),
  windowMinutes: positiveInt(),
  coolDownMinutes: z.optional(positiveInt()),
  scheduleNames: z.array(nonEmpty()),
  /** Every agent of the pipeline: the breaker function serves exactly these, each through its own alias. */
  agents: z._default(z.array(nonEmpty()), []),
  /** Each agent's own limit: the breaker function checks each caller's count against it in a window of its own. */
  agentLimits: z._default(z.record(z.string(), z.object({ maxOutputs: positiveInt(), windowMinutes: positiveInt() })), {}),
  /** Each reviewed agent's expiry and what expiry does: the breaker function holds outputs by these, not by the caller's word. */
  reviews: z.optional(z.record(z.string(), z.object({ expiresAfterHours: positiveInt(), onExpiry: z.enum(['discard', 'publish']) }))),
});

export type BreakerSpec = z.output<typeof breakerSpecSchema>;

export function breakerSpec(pipeline: PipelineConfig, prefix = ''): BreakerSpec {
  return {
    pipeline: pipeline.name,
    stage: pipeline.stage,
    maxOutputs: pipeline.breaker.maxOutputs,
    windowMinutes: pipeline.breaker.windowMinutes,
    ...(pipeline.breaker.coolDownMinutes === undefined ? {} : { coolDownMinutes: pipeline.breaker.coolDownMinutes }),
    scheduleNames: pipeline.agents.flatMap((a) => a.schedules.map((_, i) => scheduleName(a.id, i, prefix))),
    agents: pipeline.agents.map((a) => a.id),
    agentLimits: Object.fromEntries(pipeline.agents.map((a) => [a.id, { maxOutputs: a.breaker.maxOutputs, windowMinutes: a.breaker.windowMinutes }])),
    reviews: Object.fromEntries(pipeline.agents.flatMap((a) => (a.review ? [[a.id, { expiresAfterHours: a.review.expiresAfterHours, onExpiry: a.review.onExpiry }]] : []))),
  };
}
