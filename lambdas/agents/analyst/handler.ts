import { agentHandler } from '../../shared/agent-handler';

/** The analyst: summarises the day's output and engagement. */
export const handler = agentHandler('analyst', async ({ invocation }) => `reported on ${invocation.scheduledTime}`);
