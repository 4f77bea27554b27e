import { describe, expect, it } from 'vitest';
import { InvocationError, parseInvocation } from '../../src/runtime/invocation.ts';
import { schedulerInvocation } from '../support/events.ts';

describe('agent invocation', () => {
  it('parses what EventBridge Scheduler sends', () => {
    expect(parseInvocation(schedulerInvocation('writer', '2026-11-25T02:15:00Z', 2), 'writer')).toEqual({
      agentId: 'writer',
      scheduledTime: '2026-11-25T02:15:00Z',
      scheduleArn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/nightshift-dev/writer-0',
      attemptNumber: 2,
    });
  });

  it('fills defaults for a local invocation', () => {
    expect(parseInvocation({ agentId: 'seo', scheduledTime: '2026-11-25T02:45:00+00:00' }, 'seo')).toMatchObject({
      scheduleArn: 'local',
      attemptNumber: 0,
    });
  });

  it('names the missing field', () => {
    expect(() => parseInvocation({ agentId: 'seo' }, 'seo')).toThrow(
      new InvocationError('Not an agent invocation: scheduledTime: Invalid input: expected string, received undefined'),
    );
  });

  it('rejects a time that is not ISO 8601', () => {
    expect(() => parseInvocation({ agentId: 'seo', scheduledTime: 'tuesday' }, 'seo')).toThrow(
      /scheduledTime: Invalid ISO datetime/,
    );
  });

  it('refuses an invocation addressed to another agent', () => {
    expect(() => parseInvocation(schedulerInvocation('writer'), 'community')).toThrow(
      "Invocation for agent 'writer' reached agent 'community'; check the schedule target",
    );
  });
});
