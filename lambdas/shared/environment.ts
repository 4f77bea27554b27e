import { z } from 'zod';
import { agentSpecSchema } from '../../src/config/agent-spec';

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

const agentEnvironmentSchema = z.object({
  COORDINATION_TABLE: z.string().min(1),
  MEMORY_TABLE: z.string().min(1),
  MEMORY_QUEUE_URL: z.string().min(1),
  NIGHTSHIFT_AGENT_SPEC: json.pipe(agentSpecSchema),
});

export type AgentEnvironment = z.output<typeof agentEnvironmentSchema>;

/** Reads what the `Agent` construct puts in the function's environment. */
export function agentEnvironment(env: NodeJS.ProcessEnv = process.env): AgentEnvironment {
  const result = agentEnvironmentSchema.safeParse(env);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new EnvironmentError(`Agent environment is incomplete: ${detail}`);
  }
  return result.data;
}
