import { z } from 'zod';
import { agentSpecSchema, breakerSpecSchema } from '../../src/config/agent-spec';

/** A function deployed without the environment the stack gives it; names the variable and the problem. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

const json = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not JSON' });
    return z.NEVER;
  }
});

const breakerEnvironmentSchema = z.object({
  COUNTER_TABLE: z.string().min(1),
  ALERT_TOPIC_ARN: z.string().min(1),
  SCHEDULE_GROUP: z.string().min(1),
  NIGHTSHIFT_BREAKER_SPEC: json.pipe(breakerSpecSchema),
});

const agentEnvironmentSchema = breakerEnvironmentSchema.extend({
  COORDINATION_TABLE: z.string().min(1),
  MEMORY_TABLE: z.string().min(1),
  MEMORY_QUEUE_URL: z.string().min(1),
  NIGHTSHIFT_AGENT_SPEC: json.pipe(agentSpecSchema),
  /**
   * Where `ctx.model` calls go: Amazon Bedrock, or the offline provider (no model is called: for tests and stacks
   * emulated without Bedrock). The stack leaves it unset.
   */
  NIGHTSHIFT_MODEL_PROVIDER: z.enum(['bedrock', 'offline']).default('bedrock'),
});

export type BreakerEnvironment = z.output<typeof breakerEnvironmentSchema>;
export type AgentEnvironment = z.output<typeof agentEnvironmentSchema>;

function parse<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new EnvironmentError(`${what} environment is incomplete: ${detail}`);
  }
  return result.data;
}

/** Reads what the `Agent` construct puts in an agent function's environment. */
export function agentEnvironment(env: NodeJS.ProcessEnv = process.env): AgentEnvironment {
  return parse(agentEnvironmentSchema, env, 'Agent');
}

/** Reads what the stack gives the breaker watchdog. */
export function breakerEnvironment(env: NodeJS.ProcessEnv = process.env): BreakerEnvironment {
  return parse(breakerEnvironmentSchema, env, 'Breaker');
}
