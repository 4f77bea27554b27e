import { agentSpecSchema, breakerSpecSchema } from '../../src/config/agent-spec';
import * as z from 'zod/mini';
import { describeIssues, jsonText } from '../../src/runtime/schema';

/** A function deployed without the environment the stack gives it; names the variable and the problem. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

function nonEmpty() {
  return z.string().check(z.minLength(1));
}

const breakerEnvironmentSchema = z.object({
  COUNTER_TABLE: nonEmpty(),
  ALERT_TOPIC_ARN: nonEmpty(),
  SCHEDULE_GROUP: nonEmpty(),
  NIGHTSHIFT_BREAKER_SPEC: z.pipe(jsonText, breakerSpecSchema),
});

const agentEnvironmentSchema = z.extend(breakerEnvironmentSchema, {
  COORDINATION_TABLE: nonEmpty(),
  MEMORY_TABLE: nonEmpty(),
  MEMORY_QUEUE_URL: nonEmpty(),
  NIGHTSHIFT_AGENT_SPEC: z.pipe(jsonText, agentSpecSchema),
  /**
   * Where `ctx.model` calls go: Amazon Bedrock, or the offline provider (no model is called: for tests and stacks
   * emulated without Bedrock). The stack leaves it unset.
   */
  NIGHTSHIFT_MODEL_PROVIDER: z._default(z.enum(['bedrock', 'offline']), 'bedrock'),
});

export type BreakerEnvironment = z.output<typeof breakerEnvironmentSchema>;
export type AgentEnvironment = z.output<typeof agentEnvironmentSchema>;

function parse<S extends z.ZodMiniType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new EnvironmentError(`${what} environment is incomplete: ${describeIssues(result.error, '(environment)')}`);
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
