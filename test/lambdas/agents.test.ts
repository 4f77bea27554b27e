import { describe, expect, it } from 'vitest';
import { handler as analyst } from '../../lambdas/agents/analyst/handler';
import { handler as community } from '../../lambdas/agents/community/handler';
import { handler as planner } from '../../lambdas/agents/planner/handler';
import { handler as seo } from '../../lambdas/agents/seo/handler';
import { handler as writer } from '../../lambdas/agents/writer/handler';
import reference from '../../nightshift.config';
import { schedulerInvocation } from '../support/events';

const handlers = { planner, writer, seo, community, analyst };

describe('reference agent handlers', () => {
  it('exist for every agent in the reference pipeline', () => {
    expect(Object.keys(handlers).sort()).toEqual(reference.agents.map((a) => a.id).sort());
  });

  it.each(Object.entries(handlers))('%s handles its scheduled invocation', async (agentId, handler) => {
    const result = await handler(schedulerInvocation(agentId, '2026-11-25T03:30:00Z'));
    expect(result).toMatchObject({ agentId, scheduledTime: '2026-11-25T03:30:00Z' });
    expect(result.summary).toContain('2026-11-25T03:30:00Z');
  });

  it('rejects an event that is not an invocation', async () => {
    await expect(writer({ 'detail-type': 'Scheduled Event' })).rejects.toThrow(/Not an agent invocation/);
  });
});
