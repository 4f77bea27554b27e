import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/runtime/breaker/alerts.ts';
import { handleBreakerRequest } from '../../src/runtime/breaker/breaker-function.ts';
import { MemoryReader, REJECTIONS_COUNTED_MAX } from '../../src/runtime/memory/reader.ts';
import { MemorySteward } from '../../src/runtime/memory/steward.ts';
import { RunHistory } from '../../src/runtime/run-history.ts';
import { Watch, storeSources } from '../../src/runtime/watch/watch.ts';
import { freshBreaker } from '../support/breaker.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { countingClient } from '../support/counting-client.ts';
import { MINUTE } from '../support/coordination.ts';
import { delivered, freshNamespace, update } from '../support/memory.ts';

const HOUR = 60 * MINUTE;

/**
 * One agent sends as fast as its grants allow: memory updates the steward rejects, and requests to the breaker
 * function. Another agent's update is still applied, its silence still pages, the flood's rejections page as the
 * flooder's own (the watch reading a bounded number of them), and the trip names the flooder.
 */
describe('a flood from one agent', () => {
  it('never stops another agent’s update, its pages, or the blame landing on the flooder', async () => {
    const b = await freshBreaker({ pipelineMaxOutputs: 40, agentLimits: { spammer: { maxOutputs: 10, windowMinutes: 60 }, writer: { maxOutputs: 10, windowMinutes: 60 } } });
    const memory = await dynamoForTest('flood');
    const client = DynamoDBDocumentClient.from(memory.client, { marshallOptions: { removeUndefinedValues: true } });
    const drafts = freshNamespace();
    const spam = freshNamespace();
    const steward = new MemorySteward({
      client,
      tableName: memory.names.memory,
      clock: b.clock,
      writers: new Map([
        ['AROASPAMMER', { agentId: 'spammer', writes: [spam], pins: [] }],
        ['AROAWRITER', { agentId: 'writer', writes: [drafts], pins: [] }],
      ]),
    });
    const counting = countingClient(client);
    const reader = new MemoryReader({ client: counting.client, tableName: memory.names.memory, senders: ['spammer', 'writer', 'unknown'] });
    const pages: Alert[] = [];
    const watch = () =>
      new Watch({
        spec: { label: 'flood', agents: [{ id: 'spammer', silentAfterMs: 2 * HOUR }, { id: 'writer', silentAfterMs: 2 * HOUR }] },
        sources: storeSources({
          history: new RunHistory({ client: b.client, tableName: b.tableName, clock: b.clock }),
          breaker: () => b.breaker.state(),
          reader,
          queues: async () => ({ memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 }),
        }),
        client: b.client,
        tableName: b.tableName,
        clock: b.clock,
        alerts: { publish: async (alert) => void pages.push(alert) },
      });
    await watch().run(); // the watch's baseline
    await b.clock.advance(MINUTE);

    // The flood: rejected updates (a namespace the spammer may not write), 20 at a time, past what the watch counts.
    const flood = REJECTIONS_COUNTED_MAX + 200;
    for (let sent = 0; sent < flood; sent += 20) {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          steward.handle({ ...delivered(update({ namespace: drafts, key: `k${(sent + i) % 7}`, value: 'spam', agentId: 'spammer' })), senderId: 'AROASPAMMER:run' }),
        ),
      );
      expect(results.every((r) => r.outcome === 'rejected')).toBe(true);
    }
    // The victim's update, in the middle of it: applied.
    const applied = await steward.handle({ ...delivered(update({ namespace: drafts, key: 'article', value: 'the real draft', agentId: 'writer' })), senderId: 'AROAWRITER:run' });
    expect(applied.outcome).toBe('applied');
    expect((await reader.get(drafts, 'article'))?.value).toBe('the real draft');

    // The breaker function, asked as fast as the spammer's alias allows: the trip is the spammer's.
    const asked = await Promise.all(Array.from({ length: 30 }, (_, i) => handleBreakerRequest(b.breaker, 'spammer', { op: 'count', runId: 'r', outputId: `s-${i}`, epoch: 0, sequence: i + 1 })));
    expect(asked.filter((a) => a.op === 'count' && a.admission.admitted)).toHaveLength(10);
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'count', runId: 'w', outputId: 'real', epoch: 0, sequence: 1 })).toMatchObject({ admission: { admitted: false } });
    expect(await b.breaker.state()).toMatchObject({ status: 'OPEN', agentId: 'spammer', reason: 'outputs' });

    // Three hours on: the writer never ran, so its silence pages; the flood pages as the spammer's rejections, capped.
    await b.clock.advance(3 * HOUR);
    counting.calls.length = 0;
    await b.breaker.reset(); // the operator resumes: a halted pipeline is silent on purpose
    const tick = await watch().run();
    expect(tick.opened).toEqual(expect.arrayContaining(['silent:writer', 'memory-rejected:spammer']));
    expect(tick.opened).not.toContain('memory-rejected:writer');
    expect(pages.map((p) => p.subject)).toEqual(expect.arrayContaining([expect.stringContaining('writer is silent'), expect.stringContaining(`${REJECTIONS_COUNTED_MAX}+ memory update(s) of spammer rejected`)]));
    // The watch's read of the flood is bounded: a few pages of at most the counted maximum, whatever was sent.
    expect(counting.calls.filter((call) => call === 'QueryCommand').length).toBeLessThan(20);
  });
});
