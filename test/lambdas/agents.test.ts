import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as analystAgent from '../../lambdas/agents/analyst/handler.ts';
import * as communityAgent from '../../lambdas/agents/community/handler.ts';
import * as plannerAgent from '../../lambdas/agents/planner/handler.ts';
import * as seoAgent from '../../lambdas/agents/seo/handler.ts';
import * as writerAgent from '../../lambdas/agents/writer/handler.ts';
import { agentHandler } from '../../lambdas/shared/agent-handler.ts';
import { parseAgentEnvironment as agentEnvironment } from '../../src/contract/environment.ts';
import reference from '../../nightshift.config.ts';
import { memoryQueueForTest, agentEnvironment as testEnvironment } from '../support/agent-env.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { lambdaEndpoint } from '../support/lambda-endpoint.ts';
import { schedulerInvocation } from '../support/events.ts';

const { names } = await dynamoForTest('agents');
// SSM is the one service here we cannot run: the community agent's bot token comes from this stand-in.
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: '/nightshift/dev/discord-bot-token', WithDecryption: true }).resolves({ Parameter: { Value: 'token-from-ssm' } });
afterAll(() => ssm.restore());
// The breaker function each agent asks: the real handler, behind a loopback Lambda endpoint.
const breakerFunction = await lambdaEndpoint(async (event, context) => (await import('../../lambdas/breaker/handler.ts')).handler(event, context));
const memory = await memoryQueueForTest();
// What the Agent construct bundles around each agent's work: the handler over the function's environment.
const [planner, writer, seo, community, analyst] = [plannerAgent, writerAgent, seoAgent, communityAgent, analystAgent].map((m) => agentHandler(m.work));
const handlers = { planner: planner!, writer: writer!, seo: seo!, community: community!, analyst: analyst! };

afterEach(() => vi.unstubAllEnvs());

function stubEnvironment(agentId: string) {
  for (const [key, value] of Object.entries(testEnvironment(reference, agentId, names, memory, breakerFunction.endpoint))) vi.stubEnv(key, value);
}

describe('reference agent handlers', () => {
  it('exist for every agent in the reference pipeline', () => {
    expect(Object.keys(handlers).sort()).toEqual(reference.agents.map((a) => a.id).sort());
  });

  it('run the reference pipeline in dependency order through the guard, queueing memory instead of writing it', async () => {
    const slot = '2026-11-25T03:30:00Z';
    for (const [agentId, handler] of Object.entries(handlers)) {
      stubEnvironment(agentId);
      const outcome = await handler(schedulerInvocation(agentId, slot));
      expect(outcome, agentId).toMatchObject({ status: 'completed', taskId: `${agentId}@2026-11-25T03:30:00.000Z` });
      if (outcome.status !== 'completed') continue;
      // Upstream agents just succeeded, so nobody downstream runs degraded; the planner has no upstream.
      expect(outcome.degraded, agentId).toBeUndefined();
      // No steward runs in this test, so the writer's draft is queued, not applied: SEO finds nothing to review.
      expect(outcome.outputs, agentId).toHaveLength(agentId === 'seo' ? 0 : 1);
    }
    // The community agent read its bot token from SSM (decrypted), by the name the config gives, once.
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([{ Name: '/nightshift/dev/discord-bot-token', WithDecryption: true }]);
    // The agents queued their memory updates for the steward instead of writing the table.
    expect(memory.queue.sentCount).toBeGreaterThanOrEqual(5);
    // Each output was counted by the breaker function, each agent through its own alias.
    expect(new Set(breakerFunction.invoked.map((arn) => arn.split(':').at(-1)))).toEqual(new Set(['planner', 'writer', 'community', 'analyst']));
  });

  it('skips a slot Scheduler delivers again', async () => {
    stubEnvironment('planner');
    const slot = '2026-11-25T13:00:00Z';
    await expect(handlers.planner(schedulerInvocation('planner', slot))).resolves.toMatchObject({ status: 'completed' });
    await expect(handlers.planner(schedulerInvocation('planner', slot, 1))).resolves.toMatchObject({
      status: 'skipped',
      reason: 'already-completed',
    });
  });

  it('rejects an event that is not an invocation', async () => {
    stubEnvironment('writer');
    await expect(handlers.writer({ 'detail-type': 'Scheduled Event' })).rejects.toThrow(/Not an agent invocation/);
  });
});

describe('agent environment', () => {
  it('names what is missing', () => {
    const complete = testEnvironment(reference, 'writer', names, memory, breakerFunction.endpoint);
    expect(() => agentEnvironment({ ...complete, COORDINATION_TABLE: undefined, NIGHTSHIFT_AGENT_SPEC: '{' })).toThrow(
      'Agent environment is incomplete: COORDINATION_TABLE: Invalid input: expected string, received undefined; NIGHTSHIFT_AGENT_SPEC: is not JSON',
    );
  });

  it('checks the spec against its schema', () => {
    const complete = testEnvironment(reference, 'writer', names, memory, breakerFunction.endpoint);
    expect(() => agentEnvironment({ ...complete, NIGHTSHIFT_AGENT_SPEC: '{"id":"x"}' })).toThrow(
      /NIGHTSHIFT_AGENT_SPEC\.leaseMinutes: Invalid input: expected number/,
    );
  });
});
