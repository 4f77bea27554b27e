import { agentHandler } from '../../shared/agent-handler';

/** The community agent: posts finished articles to the community channels (the report's Discord poster). */
export const handler = agentHandler('community', async (ctx) => {
  await ctx.emit({ kind: 'post', slot: ctx.invocation.scheduledTime });
  return `posted for ${ctx.invocation.scheduledTime}`;
});
