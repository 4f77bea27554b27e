import { agentHandler } from '../../shared/agent-handler';

/** The writer (the report's content agent): drafts articles from the planner's plan. */
export const handler = agentHandler('writer', async ({ invocation }) => `drafted for ${invocation.scheduledTime}`);
