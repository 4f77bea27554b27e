import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import type { AgentInvocation } from '../../src/runtime/invocation.ts';
import { runAgent } from '../../src/runtime/run-lifecycle.ts';
import { breakerSpec, freshBreaker } from '../support/breaker.ts';
import { MINUTE } from '../support/coordination.ts';

/**
 * Outside events run an agent on its triggers; whoever may put them on the bus (or loops on the default bus) must not
 * run it without limit. Each outside-event trigger admits `maxPerHour` runs in any hour; the rest are recorded as
 * skipped and never retried, while an upstream's outputs and the schedules run as before.
 */
const spec: AgentSpec = breakerSpec({
  id: 'triage',
  breaker: { maxOutputs: 1_000, windowMinutes: 60 },
  triggers: [{ outputsOf: 'scout' }, { event: { source: ['tickets'], detailType: ['Ticket opened'], bus: 'default', maxPerHour: 3 } }, { event: { source: ['chat'], bus: 'pipeline' } }],
});

const outside = (id: string, source = 'tickets', detailType = 'Ticket opened'): AgentInvocation => ({
  agentId: 'triage',
  scheduledTime: '2026-11-25T03:00:00.000Z',
  scheduleArn: 'event',
  attemptNumber: 0,
  trigger: { kind: 'event', eventId: id, source, detailType, detail: {} },
});

describe('the hourly limit of an outside-event trigger', () => {
  it('runs the first maxPerHour events of an hour and skips the rest as rate-limited, without retries, until the hour has passed', async () => {
    const b = await freshBreaker();
    const ran: string[] = [];
    const work = async (ctx: { invocation: AgentInvocation }) => void ran.push((ctx.invocation.trigger as { eventId: string }).eventId);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await runAgent(b.deps, spec, outside(`t-${i}`), work));
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'completed', 'skipped', 'skipped']);
    expect(outcomes[3]).toMatchObject({ reason: 'rate-limited', detail: 'event t-3 from tickets is run 4 of this trigger in the last hour; its maxPerHour is 3' });
    expect(ran).toEqual(['t-0', 't-1', 't-2']);
    // A redelivery of a skipped event is done with: it neither runs nor counts again.
    expect(await runAgent(b.deps, spec, outside('t-3'), work)).toMatchObject({ status: 'skipped', reason: 'already-completed' });
    // Another trigger's events and an upstream's outputs have limits of their own (the default 60 for the chat trigger).
    expect(await runAgent(b.deps, spec, outside('c-0', 'chat', 'Message'), work)).toMatchObject({ status: 'completed' });
    const output: AgentInvocation = { ...outside('o-0'), trigger: { kind: 'output', eventId: 'o-0', from: 'scout', outputId: 's:0', runId: 's', degraded: false, payload: {} } };
    expect(await runAgent(b.deps, spec, output, work)).toMatchObject({ status: 'completed' });
    await b.clock.advance(61 * MINUTE);
    expect(await runAgent(b.deps, spec, outside('t-later'), work)).toMatchObject({ status: 'completed' });
  });

  it('refuses a limit outside 1-100,000 in the config, naming the field', async () => {
    const { definePipeline, ConfigError } = await import('../../src/config/pipeline.ts');
    const input = (maxPerHour: number) => ({
      name: 'rate',
      stage: 'dev',
      breaker: { maxOutputs: 5, windowMinutes: 60 },
      agents: [{ id: 'triage', entry: 'agents/triage.ts', triggers: [{ event: { source: ['tickets'], maxPerHour } }], breaker: { maxOutputs: 5, windowMinutes: 60 } }],
    });
    expect(definePipeline(input(10)).agents[0]!.triggers[0]).toEqual({ event: { source: ['tickets'], bus: 'pipeline', maxPerHour: 10 } });
    expect(() => definePipeline(input(0))).toThrow(ConfigError);
    expect(() => definePipeline(input(0))).toThrow(/agents\[triage\]\.triggers\[0\]\.event\.maxPerHour/);
  });

  it('limits an upstream’s outputs to what its breaker lets it publish in an hour: output events put around the breaker run nothing past it', async () => {
    const { definePipeline } = await import('../../src/config/pipeline.ts');
    const { agentSpec } = await import('../../src/config/agent-spec.ts');
    const pipeline = definePipeline({
      name: 'rate',
      stage: 'dev',
      breaker: { maxOutputs: 50, windowMinutes: 60 },
      agents: [
        { id: 'scout', entry: 'agents/scout.ts', schedules: [{ cron: '0 6 * * *' }], breaker: { maxOutputs: 1, windowMinutes: 30 } },
        { id: 'editor', entry: 'agents/editor.ts', triggers: [{ outputsOf: 'scout' }], breaker: { maxOutputs: 5, windowMinutes: 60 } },
      ],
    });
    const editor = agentSpec(pipeline, 'editor');
    expect(editor.triggers).toEqual([{ outputsOf: 'scout', maxPerHour: 2, waitForMemorySeconds: 120 }]); // 1 per 30 minutes: 2 an hour
    const b = await freshBreaker();
    const output = (id: string): AgentInvocation => ({ ...outside(id), agentId: 'editor', trigger: { kind: 'output', eventId: id, from: 'scout', outputId: `${id}:0`, runId: id, degraded: false, payload: {} } });
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await runAgent(b.deps, editor, output(`forged-${i}`), async () => 'edited'));
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'skipped', 'skipped']);
    expect(outcomes[2]).toMatchObject({ reason: 'rate-limited', detail: 'output forged-2:0 of scout is run 3 of this trigger in the last hour; its maxPerHour is 2' });
  });
});
