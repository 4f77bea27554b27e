import { agentHandler } from '../../shared/agent-handler';

/** The analyst: summarises the day's output and engagement. */
export const handler = agentHandler('analyst', async (ctx) => {
  await ctx.emit({ kind: 'report', slot: ctx.invocation.scheduledTime });
  return `reported on ${ctx.invocation.scheduledTime}`;
});
