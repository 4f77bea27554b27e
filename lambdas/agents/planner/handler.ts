import { agentHandler } from '../../shared/agent-handler';

/** The planner (the field report's "cron scheduler agent"): decides what the pipeline works on next. */
export const handler = agentHandler('planner', async ({ invocation }) => `planned the slot at ${invocation.scheduledTime}`);
