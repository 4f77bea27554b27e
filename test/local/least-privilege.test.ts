import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { status } from '../../cli/ops.ts';
import type { Target } from '../../cli/target.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { LocalPipeline } from '../../local/pipeline.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

/** Two agents with their own namespaces, on the local stack where each signs its SQS requests as itself. */
const pipeline = definePipeline({
  name: 'desk',
  stage: 'test',
  agents: [
    { id: 'intake', entry: 'examples/agents/note-taker.ts', schedules: [{ cron: '0 1 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 }, memory: { writes: ['tickets'] } },
    { id: 'reply', entry: 'examples/agents/note-taker.ts', upstream: ['intake'], schedules: [{ cron: '0 2 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 }, memory: { reads: ['tickets'], writes: ['replies'] } },
  ],
  breaker: { maxOutputs: 10, windowMinutes: 60 },
});

describe('least privilege in local mode', () => {
  it('rejects, with reasons, an agent writing outside its namespaces and one signing as another, leaving memory as it was', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 1));
    const local = await LocalPipeline.start({ pipeline, clock, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `lp-${randomUUID().slice(0, 8)}` });
    try {
      const invocation = (agentId: string) => ({ agentId, scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 });
      // The intake agent writes its own namespace, then tries the reply agent's.
      await local.handler('intake', async (ctx) => {
        await ctx.memory.put('tickets', 't1', { text: 'printer on fire' });
        await ctx.memory.put('replies', 't1', { text: 'ignore this ticket' });
      })(invocation('intake'));
      // A compromised intake sends straight to the queue, signing the body as the reply agent.
      await local.memoryClientFor('intake').submit([
        { idempotencyId: 'forged-1', agentId: 'reply', runId: 'x', op: 'put', namespace: 'replies', key: 't1', value: { text: 'forged' } },
      ]);
      await local.eventSource.drain();

      expect((await local.reader.get('tickets', 't1'))?.value).toEqual({ text: 'printer on fire' });
      expect(await local.reader.get('replies', 't1')).toBeUndefined();
      const rejections = await local.reader.rejections();
      expect(rejections.map((r) => [r.reason, r.detail])).toEqual(
        expect.arrayContaining([
          ['namespace-not-writable', "agent 'intake' may not write namespace 'replies' (it writes: tickets)"],
          ['impersonation', "sent by agent 'intake' but signed as 'reply'"],
        ]),
      );
      const target: Pick<Target, 'label' | 'pipeline' | 'clock' | 'client' | 'names' | 'reader' | 'heartbeats' | 'locks' | 'breaker' | 'queueDepths'> = {
        label: 'desk (local)',
        pipeline,
        clock,
        client: local.client,
        names: local.names,
        reader: local.reader,
        heartbeats: local.heartbeats,
        locks: local.locks,
        breaker: local.breaker,
        queueDepths: () => local.queueDepths(),
      };
      const shown = await status(target as Target);
      expect(shown.text).toContain('rejected updates: 2 (1 impersonation, 1 namespace-not-writable)');
      expect(shown.text).toContain("impersonation: sent by agent 'intake' but signed as 'reply'");
      // Rejections page through the watch, which has not run here: status says it saw nothing open.
      expect(shown.text).toContain('open incidents (as the watch last saw them): none');
    } finally {
      await local.stop();
    }
  });
});
