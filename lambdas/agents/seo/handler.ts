import { agentHandler } from '../../shared/agent-handler';

/** The SEO agent: tunes the writer's drafts for search. */
export const handler = agentHandler('seo', async ({ invocation }) => `optimised drafts for ${invocation.scheduledTime}`);
