import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { type AgentInvocation, parseInvocation } from '../../src/runtime/invocation';

/** What an agent's work function receives for one scheduled run. */
export interface AgentRun {
  readonly invocation: AgentInvocation;
  readonly logger: Logger;
}

/** What a run reports back; returned to the caller as the Lambda result. */
export interface AgentRunResult {
  readonly agentId: string;
  readonly scheduledTime: string;
  readonly summary: string;
}

export type AgentWork = (run: AgentRun) => Promise<string>;

/**
 * Builds the Lambda handler every agent exports, so no agent repeats the boilerplate: parse the Scheduler event,
 * log with Powertools, run the work. This is the seam where the guard (locks, heartbeats, breaker) plugs in.
 */
export function agentHandler(agentId: string, work: AgentWork) {
  const logger = new Logger({ serviceName: agentId });
  return async (event: unknown, context?: Context): Promise<AgentRunResult> => {
    if (context) logger.addContext(context);
    const invocation = parseInvocation(event, agentId);
    logger.info('run started', { scheduledTime: invocation.scheduledTime, attempt: invocation.attemptNumber });
    const summary = await work({ invocation, logger });
    logger.info('run finished', { summary });
    return { agentId, scheduledTime: invocation.scheduledTime, summary };
  };
}
