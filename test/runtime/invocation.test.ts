import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EVENT_TIME_SKEW, InvocationError, describeTrigger, parseInvocation, taskIdOf } from '../../src/runtime/invocation.ts';
import { schedulerInvocation } from '../support/events.ts';

/** The receiving function's clock: a few seconds after the events below were sent. */
const NOW = Date.parse('2026-11-25T03:00:10Z');

describe('agent invocation', () => {
  it('parses what EventBridge Scheduler sends', () => {
    expect(parseInvocation(schedulerInvocation('writer', '2026-11-25T02:15:00Z', 2), 'writer', NOW)).toEqual({
      agentId: 'writer',
      scheduledTime: '2026-11-25T02:15:00Z',
      scheduleArn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/nightshift-dev/writer-0',
      attemptNumber: 2,
    });
  });

  it('fills defaults for a local invocation', () => {
    expect(parseInvocation({ agentId: 'seo', scheduledTime: '2026-11-25T02:45:00+00:00' }, 'seo', NOW)).toMatchObject({
      scheduleArn: 'local',
      attemptNumber: 0,
    });
  });

  it('names the missing field', () => {
    expect(() => parseInvocation({ agentId: 'seo' }, 'seo', NOW)).toThrow(
      new InvocationError('Not an agent invocation: scheduledTime: Invalid input: expected string, received undefined'),
    );
  });

  it('rejects a time that is not ISO 8601', () => {
    expect(() => parseInvocation({ agentId: 'seo', scheduledTime: 'tuesday' }, 'seo', NOW)).toThrow(
      /scheduledTime: Invalid ISO datetime/,
    );
  });

  it('refuses an invocation addressed to another agent', () => {
    expect(() => parseInvocation(schedulerInvocation('writer'), 'community', NOW)).toThrow(
      "Invocation for agent 'writer' reached agent 'community'; check the schedule target",
    );
  });
});

describe('triggered invocations (EventBridge events)', () => {
  const editor = { id: 'editor', triggers: [{ outputsOf: 'scout' }, { event: { source: ['tickets'], detailType: ['Ticket opened'], bus: 'pipeline' as const } }] };
  const event = (source: string, detailType: string, detail: unknown, id = 'e-1') => ({
    version: '0',
    id,
    'detail-type': detailType,
    source,
    account: '123456789012',
    time: '2026-11-25T03:00:05Z',
    region: 'us-east-1',
    resources: [],
    detail,
  });

  it("reads an upstream's output: who from (its source, not what the detail claims), the output, a task id from the event id", () => {
    const invocation = parseInvocation(event('nightshift.agent.scout', 'Output published', { agentId: 'someone-else', runId: 'r1', outputId: 'r1:0', payload: { topic: 'k8s' } }), editor, NOW);
    expect(invocation.trigger).toEqual({ kind: 'output', eventId: 'e-1', from: 'scout', outputId: 'r1:0', runId: 'r1', degraded: false, payload: { topic: 'k8s' } });
    expect(invocation.scheduledTime).toBe('2026-11-25T03:00:05.000Z');
    expect(taskIdOf(invocation)).toBe('editor@event:e-1');
    expect(describeTrigger(invocation.trigger)).toBe('output r1:0 of scout');
  });

  it('reads an outside event it has a trigger for', () => {
    const invocation = parseInvocation(event('tickets', 'Ticket opened', { ticket: 'T-1' }, 'e-2'), editor, NOW);
    expect(invocation.trigger).toEqual({ kind: 'event', eventId: 'e-2', source: 'tickets', detailType: 'Ticket opened', detail: { ticket: 'T-1' } });
    expect(taskIdOf(invocation)).toBe('editor@event:e-2');
  });

  it('refuses an event none of its triggers take, and an output event without an output', () => {
    expect(() => parseInvocation(event('nightshift.agent.publisher', 'Output published', { runId: 'r', outputId: 'r:0', agentId: 'publisher' }), editor, NOW)).toThrow(
      /editor does not run on events from 'nightshift.agent.publisher'.*outputs of scout, tickets \/ Ticket opened/,
    );
    expect(() => parseInvocation(event('tickets', 'Ticket closed', {}), editor, NOW)).toThrow(/does not run on 'tickets' events of type 'Ticket closed'/);
    expect(() => parseInvocation(event('tickets', 'Ticket opened', {}), 'editor', NOW)).toThrow(/its triggers are none \(it runs on schedules only\)/);
    expect(() => parseInvocation(event('nightshift.agent.scout', 'Output published', { note: 'no ids' }), editor, NOW)).toThrow(InvocationError);
    expect(() => parseInvocation({ ...event('tickets', 'Ticket opened', {}), time: 'yesterday' }, editor, NOW)).toThrow(/Not an agent invocation: not an EventBridge event: time/);
  });

  it('keeps the scheduled task id as it was', () => {
    expect(taskIdOf(parseInvocation(schedulerInvocation('writer', '2026-11-25T02:15:00Z', 0), 'writer', NOW))).toBe('writer@2026-11-25T02:15:00.000Z');
  });
});

describe('the time of a triggered run', () => {
  const editor = { id: 'editor', triggers: [{ event: { source: ['tickets'], detailType: ['Ticket opened'], bus: 'default' as const } }] };
  const sent = (time: string) => ({ version: '0', id: 'e-9', 'detail-type': 'Ticket opened', source: 'tickets', account: '1', time, region: 'us-east-1', resources: [], detail: {} });

  it('is the event time its sender set, clamped to the receiver’s clock: 5 minutes ahead at most, 24 hours behind', () => {
    expect(parseInvocation(sent('2099-01-01T00:00:00Z'), editor, NOW).scheduledTime).toBe(new Date(NOW + EVENT_TIME_SKEW.aheadMs).toISOString());
    expect(parseInvocation(sent('1999-01-01T00:00:00Z'), editor, NOW).scheduledTime).toBe(new Date(NOW - EVENT_TIME_SKEW.behindMs).toISOString());
    expect(parseInvocation(sent('2026-11-25T01:00:00Z'), editor, NOW).scheduledTime).toBe('2026-11-25T01:00:00.000Z'); // retried for two hours: kept
  });

  it('property: whatever time a sender sets, the run’s time lies within the skew of the receiver’s clock', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }), (time, now) => {
        const at = Date.parse(parseInvocation(sent(time.toISOString()), editor, now).scheduledTime);
        expect(at).toBeGreaterThanOrEqual(now - EVENT_TIME_SKEW.behindMs);
        expect(at).toBeLessThanOrEqual(now + EVENT_TIME_SKEW.aheadMs);
      }),
    );
  });
});

describe('an upstream output event, read as its sender wrote it', () => {
  const editor = { id: 'editor', triggers: [{ outputsOf: 'scout' }] };
  const output = (detail: unknown) => ({ version: '0', id: 'e-3', 'detail-type': 'Output published', source: 'nightshift.agent.scout', account: '1', time: '2026-11-25T03:00:05Z', region: 'us-east-1', resources: [], detail });

  it('refuses ids past their bounds, naming the field, before anything runs', () => {
    expect(() => parseInvocation(output({ agentId: 'scout', runId: 'r'.repeat(201), outputId: 'o', payload: {} }), editor, NOW)).toThrow(/output event e-3 from scout: runId: Too big/);
    expect(() => parseInvocation(output({ agentId: 'scout', runId: 'r', outputId: 'o'.repeat(301), payload: {} }), editor, NOW)).toThrow(/output event e-3 from scout: outputId: Too big/);
    expect(parseInvocation(output({ agentId: 'scout', runId: 'r', outputId: 'r:0', payload: { big: 'x'.repeat(1000) } }), editor, NOW).trigger).toMatchObject({ kind: 'output', runId: 'r', outputId: 'r:0' });
  });
});
