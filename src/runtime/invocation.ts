import * as z from 'zod/mini';
import { describeIssues } from './schema.ts';
import { NightshiftError } from '../errors.ts';

/**
 * What EventBridge Scheduler sends an agent (the target input set by the `Agent` construct, with Scheduler's
 * context attributes filled in), and what the local runner sends in its place.
 */
const invocationSchema = z.object({
  agentId: z.string().check(z.minLength(1)),
  /** The slot this run is for, ISO 8601. Identical across Scheduler's retries of the same slot. */
  scheduledTime: z.iso.datetime({ offset: true }),
  scheduleArn: z._default(z.string(), 'local'),
  attemptNumber: z._default(z.coerce.number().check(z.refine((n) => Number.isInteger(n) && n >= 0, 'must be a whole number ≥ 0')), 0),
});

export type AgentInvocation = z.output<typeof invocationSchema>;

/** An event that is not an agent invocation; names the field and what was wrong. */
export class InvocationError extends NightshiftError {
  override readonly name = 'InvocationError';
}

/** Parses an agent invocation and checks it is addressed to `expectedAgentId`. */
export function parseInvocation(event: unknown, expectedAgentId: string): AgentInvocation {
  const result = invocationSchema.safeParse(event);
  if (!result.success) {
    const detail = describeIssues(result.error, '(event)');
    throw new InvocationError(`Not an agent invocation: ${detail}`);
  }
  if (result.data.agentId !== expectedAgentId) {
    throw new InvocationError(
      `Invocation for agent '${result.data.agentId}' reached agent '${expectedAgentId}'; check the schedule target`,
    );
  }
  return result.data;
}
