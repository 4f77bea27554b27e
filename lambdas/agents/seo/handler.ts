import { agentHandler } from '../../shared/agent-handler';

/** The SEO agent: tunes the writer's drafts for search. */
export const handler = agentHandler('seo', async (ctx) => {
  await ctx.emit({ kind: 'seo-review', slot: ctx.invocation.scheduledTime });
  return `optimised drafts for ${ctx.invocation.scheduledTime}`;
});
