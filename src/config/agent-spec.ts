import { z } from 'zod';
import type { PipelineConfig } from './pipeline';

/**
 * What the runtime needs to know about one agent: its own limits and the staleness limit of each upstream. Built
 * from the pipeline config at synth time and handed to the function as JSON in `NIGHTSHIFT_AGENT_SPEC`, or built
 * directly by the local runner.
 */
export const agentSpecSchema = z.object({
  id: z.string().min(1),
  leaseMinutes: z.number().positive(),
  heartbeatIntervalMinutes: z.number().positive(),
  /** Each upstream with its own `staleAfterMinutes`: an upstream declares how long its silence means death. */
  upstream: z.array(z.object({ id: z.string().min(1), staleAfterMinutes: z.number().positive() })),
  breaker: z.object({ maxOutputs: z.int().positive(), windowMinutes: z.int().positive() }),
  tokenBudgetPerDay: z.int().positive().optional(),
  /** Identical content published again within this window is suppressed. */
  duplicateWindowMinutes: z.int().positive(),
});

export type AgentSpec = z.output<typeof agentSpecSchema>;

export function agentSpec(pipeline: PipelineConfig, agentId: string): AgentSpec {
  const byId = new Map(pipeline.agents.map((a) => [a.id, a]));
  const agent = byId.get(agentId);
  if (!agent) throw new Error(`No agent '${agentId}' in pipeline '${pipeline.name}'`);
  return {
    id: agent.id,
    leaseMinutes: agent.lock.leaseMinutes,
    heartbeatIntervalMinutes: agent.heartbeat.intervalMinutes,
    upstream: agent.upstream.map((id) => ({ id, staleAfterMinutes: byId.get(id)!.heartbeat.staleAfterMinutes })),
    breaker: agent.breaker,
    duplicateWindowMinutes: agent.duplicateWindowMinutes,
    ...(agent.tokenBudgetPerDay === undefined ? {} : { tokenBudgetPerDay: agent.tokenBudgetPerDay }),
  };
}
