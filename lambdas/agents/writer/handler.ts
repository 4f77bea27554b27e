import { agentHandler } from '../../shared/agent-handler';

/** The writer (the report's content agent): drafts articles from the planner's plan, or standalone when degraded. */
export const handler = agentHandler('writer', async (ctx) => {
  await ctx.emit({ kind: 'draft', slot: ctx.invocation.scheduledTime, fromPlan: ctx.degraded === undefined });
  return `drafted for ${ctx.invocation.scheduledTime}`;
});
