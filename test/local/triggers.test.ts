import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { LocalPipeline } from '../../local/pipeline.ts';
import { SIMULATION_START, simulate } from '../../local/runner.ts';
import { type PipelineInput, definePipeline } from '../../src/config/pipeline.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import type { AgentContext, RunOutcome } from '../../src/runtime/run-lifecycle.ts';

const entry = 'examples/agents/note-taker.ts';
const memory = { reads: ['notes'], writes: ['notes'] };

/** A chain where only the first agent has a schedule: intake → triage → reply, and a desk run by outside events. */
const chain = definePipeline({
  name: 'chain',
  stage: 'test',
  agents: [
    { id: 'intake', entry, memory, schedules: [{ cron: '0 */3 * * *' }], breaker: { maxOutputs: 4, windowMinutes: 60 } },
    { id: 'triage', entry, memory, triggers: [{ outputsOf: 'intake' }], breaker: { maxOutputs: 6, windowMinutes: 60 } },
    { id: 'reply', entry, memory, upstream: ['triage'], triggers: [{ outputsOf: 'triage' }], breaker: { maxOutputs: 3, windowMinutes: 60 } },
    { id: 'desk', entry, memory, triggers: [{ event: { source: ['tickets'], detailType: ['Ticket opened'] } }], breaker: { maxOutputs: 3, windowMinutes: 60 } },
  ],
  breaker: { maxOutputs: 30, windowMinutes: 60 },
  embeddings: false, // its agents read memory by key, never by meaning
} satisfies PipelineInput);

const run = (injected: string[], hours: number) =>
  simulate({ pipeline: chain, scenario: 'normal', inject: injected, hours, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `triggers-${randomUUID().slice(0, 8)}` });

describe('agents run on events', () => {
  it('a calm chain: each triggered agent runs exactly once per upstream output, on the simulated clock', async () => {
    const result = await run([], 12);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.find((c) => c.name === 'each output ran every agent triggered by it exactly once')?.status).toBe('PASS');
    const intake = result.published.filter((p) => p.agentId === 'intake');
    expect(intake).toHaveLength(5); // 00:00, 03:00, 06:00, 09:00, 12:00
    for (const [to, from] of [['triage', 'intake'], ['reply', 'triage']] as const) {
      const outputs = result.published.filter((p) => p.agentId === from).map((p) => p.outputId).sort();
      const triggered = result.runs.filter((r) => r.agentId === to && r.status === 'completed').map((r) => (r.trigger?.kind === 'output' ? r.trigger.outputId : 'not an output')).sort();
      expect(triggered).toEqual(outputs);
    }
    // Each triggered run happens when its output was published, not at some schedule.
    for (const r of result.runs.filter((r) => r.agentId !== 'intake')) expect((r.at - SIMULATION_START.getTime()) % (3 * 3_600_000)).toBeLessThan(60_000);
    expect(result.agents.desk).toMatchObject({ completed: 0 });
    expect(result.totals).toMatchObject({ slots: 5, completed: 15, triggered: 10 });
  });

  it('a loop in the first agent cascades through the triggers and the breaker stops it with exactly one alert', async () => {
    const result = await run(['loop:intake@04:00'], 8);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.alerts).toHaveLength(1);
    expect(result.breaker).toBe('OPEN');
    // The cascade reached the end of the chain through the real routes; reply, with the smallest N, tripped first.
    expect(result.published.some((p) => p.agentId === 'reply' && p.at >= SIMULATION_START.getTime() + 4 * 3_600_000)).toBe(true);
    expect(result.alerts[0]!.subject).toMatch(/circuit breaker OPEN: reply \(outputs\)/);
    const trip = result.alerts[0]!.at;
    // After the trip nothing completes, and no agent published past its N.
    expect(result.runs.filter((r) => r.at > trip && r.status === 'completed')).toEqual([]);
    const since = SIMULATION_START.getTime() + 4 * 3_600_000;
    expect(result.published.filter((p) => p.agentId === 'reply' && p.at >= since)).toHaveLength(3); // exactly its N
  });
});

describe('EventBridge delivering an event more than once', () => {
  it('runs the agent once: the second delivery finds the task completed', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 9));
    const local = await LocalPipeline.start({ pipeline: chain, clock, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `twice-${randomUUID().slice(0, 8)}` });
    try {
      let ran = 0;
      const work = async (ctx: AgentContext) => {
        ran++;
        expect(ctx.invocation.trigger).toMatchObject({ kind: 'event', source: 'tickets', detail: { ticket: 'T-7' } });
        await ctx.emit({ handled: 'T-7' });
      };
      const { event, agents } = local.bus.send({ source: 'tickets', detailType: 'Ticket opened', detail: { ticket: 'T-7' } }, 'operator');
      expect(agents).toEqual(['desk']);
      const handler = local.handler('desk', work);
      const first = (await handler(event)) as RunOutcome<unknown>;
      await clock.advance(30_000);
      const second = (await handler(event)) as RunOutcome<unknown>;
      expect(first).toMatchObject({ status: 'completed', taskId: `desk@event:${event.id}` });
      expect(second).toMatchObject({ status: 'skipped', reason: 'already-completed', taskId: `desk@event:${event.id}` });
      expect(ran).toBe(1);
      // Two deliveries of the same event concurrently: still one run.
      const again = local.bus.send({ source: 'tickets', detailType: 'Ticket opened', detail: { ticket: 'T-7' } }, 'operator').event;
      const both = (await Promise.all([handler(again), handler(again)])) as RunOutcome<unknown>[];
      expect(both.map((o) => o.status).sort()).toEqual(['completed', 'skipped']);
      expect(ran).toBe(2);
      const history = await local.runtime('desk').history!.list(['desk']);
      expect(history.map((h) => h.trigger)).toContain(`event tickets / Ticket opened (${event.id})`);
    } finally {
      await local.stop();
    }
  });
});

describe('an output too large to be an event', () => {
  it('is refused before the breaker counts it or its side effect runs, and nothing reaches the bus', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 9));
    const local = await LocalPipeline.start({ pipeline: chain, clock, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `large-${randomUUID().slice(0, 8)}` });
    try {
      let released = 0;
      const work = async (ctx: AgentContext) => {
        await ctx.emit({ body: 'x'.repeat(300_000) }, async () => {
          released++;
        });
      };
      await expect(local.handler('intake', work)({ agentId: 'intake', scheduledTime: '2026-11-25T09:00:00Z' })).rejects.toThrow(/bytes as an event; EventBridge takes 256 KB: keep large content in memory and emit its key/);
      expect(released).toBe(0);
      expect(local.bus.put).toEqual([]);
      expect(local.metrics.get('OutputsPublished')).toBe(0);
      // A small output from the same agent goes through, and onto the bus for the agent it triggers.
      await local.handler('intake', async (ctx) => void (await ctx.emit({ small: true })))({ agentId: 'intake', scheduledTime: '2026-11-25T12:00:00Z' });
      expect(local.bus.take().map((d) => d.agentId)).toEqual(['triage']);
    } finally {
      await local.stop();
    }
  });
});
