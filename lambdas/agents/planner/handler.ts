import type { AgentContext } from '../../../src/runtime/guard';
import { agentHandler } from '../../shared/agent-handler';

const TOPICS = ['production patterns at 3am', 'memory stewards', 'fencing tokens', 'circuit breakers', 'lazy context'];

/**
 * The planner (the field report's "cron scheduler agent"): picks the next topic and records the plan in memory,
 * where the writer reads it.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const day = ctx.invocation.scheduledTime.slice(0, 10);
  const previous = await ctx.memory.get('plans', 'current');
  const index = ((previous?.value as { index?: number } | undefined)?.index ?? -1) + 1;
  const plan = { index, topic: TOPICS[index % TOPICS.length], day, slot: ctx.invocation.scheduledTime };
  await ctx.memory.put('plans', 'current', plan);
  await ctx.reportTokens(800);
  await ctx.emit({ kind: 'plan', topic: plan.topic, slot: plan.slot });
  return `planned '${plan.topic}'`;
}

export const handler = agentHandler('planner', work);
