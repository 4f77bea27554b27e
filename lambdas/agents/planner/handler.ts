import { agentHandler } from '../../shared/agent-handler';

/** The planner (the field report's "cron scheduler agent"): decides what the pipeline works on next. */
export const handler = agentHandler('planner', async (ctx) => {
  await ctx.emit({ kind: 'plan', slot: ctx.invocation.scheduledTime });
  return `planned the slot at ${ctx.invocation.scheduledTime}`;
});
