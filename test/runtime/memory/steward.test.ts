import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { MemoryUpdate } from '../../../src/runtime/memory/update.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../../support/memory.ts';

const dynamo = await dynamoForTest('steward');

/** The specification: fold updates in sequence order over a plain value. */
function fold(updates: readonly MemoryUpdate[]): unknown {
  let value: unknown;
  for (const u of updates) {
    if (u.op === 'put') value = u.value;
    if (u.op === 'delete') value = undefined;
    if (u.op === 'merge') value = { ...(value as object | undefined), ...u.value };
    if (u.op === 'append') value = [...((value as unknown[] | undefined) ?? []), ...u.value];
  }
  return value;
}

describe('memory steward', () => {
  it('applies put, merge, append and delete, and readers see the sequence of what they read', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const put = delivered(update({ namespace, key: 'article', op: 'put', value: { title: 'Draft', words: 10 } }));
    await steward.handle(put);
    const merge = delivered(update({ namespace, key: 'article', op: 'merge', value: { words: 900, seo: { score: 7 } } }));
    expect(await steward.handle(merge)).toMatchObject({ outcome: 'applied' });
    expect(await reader.get(namespace, 'article')).toMatchObject({
      value: { title: 'Draft', words: 900, seo: { score: 7 } },
      sequence: merge.sequenceNumber,
      updatedBy: 'writer',
    });

    await steward.handle(delivered(update({ namespace, key: 'log', op: 'append', value: ['a'] })));
    await steward.handle(delivered(update({ namespace, key: 'log', op: 'append', value: ['b', 'c'] })));
    expect((await reader.get(namespace, 'log'))?.value).toEqual(['a', 'b', 'c']);

    await steward.handle(delivered(update({ namespace, key: 'article', op: 'delete' })));
    expect(await reader.get(namespace, 'article')).toBeUndefined();
    expect((await reader.query(namespace)).entries.map((e) => e.key)).toEqual(['log']);
  });

  it('applies a message delivered 3 times once: the append appears once', async () => {
    const { steward, reader, metrics } = memory(dynamo);
    const namespace = freshNamespace();
    const message = delivered(update({ namespace, key: 'posts', op: 'append', value: ['hello'] }));
    const results = [await steward.handle(message), await steward.handle({ ...message, receiveCount: 2 })];
    results.push(await steward.handle({ ...message, receiveCount: 3 }));
    expect(results.map((r) => r.outcome)).toEqual(['applied', 'duplicate', 'duplicate']);
    expect((await reader.get(namespace, 'posts'))?.value).toEqual(['hello']);
    expect(metrics.get('UpdatesApplied')).toBe(1);
    expect(metrics.get('UpdatesDuplicate')).toBe(2);
  });

  it('applies a message once when two steward instances get it at the same moment', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const message = delivered(update({ namespace, key: 'posts', op: 'append', value: ['once'] }));
    const results = await Promise.all([steward.handle(message), steward.handle(message), steward.handle(message)]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    expect((await reader.get(namespace, 'posts'))?.value).toEqual(['once']);
  });

  it('ends two racing writers at the state of their updates applied in sequence order, despite redeliveries', async () => {
    const { steward, reader } = memory(dynamo);
    const op = (writer: string) =>
      fc.oneof(
        fc.record({ op: fc.constant('put' as const), value: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer()) }),
        fc.record({ op: fc.constant('merge' as const), value: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.string()) }),
        fc.record({ op: fc.constant('delete' as const) }),
      ).map((o) => ({ ...o, agentId: writer }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.oneof(op('writer'), op('seo')), fc.nat(3)), { minLength: 1, maxLength: 12 }),
        async (sends) => {
          const namespace = freshNamespace();
          // The queue orders the racing sends; each message may be redelivered a few times (at-least-once).
          const updates = sends.map(([o]) => update({ namespace, key: 'shared', ...o }));
          for (const [i, u] of updates.entries()) {
            const message = delivered(u);
            for (let copy = 0; copy <= sends[i]![1]; copy++) await steward.handle(message);
          }
          expect((await reader.get(namespace, 'shared'))?.value).toEqual(fold(updates));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('rejects a stale fencing token with its reason while the current holder applies', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const taskId = `writer@${namespace}`;
    // The paused holder (token 41) queued an update before losing its lease; the new holder (token 42) writes first.
    const fresh = await steward.handle(
      delivered(update({ namespace, key: 'article', value: 'new holder', taskId, fencingToken: 42 })),
    );
    const stale = await steward.handle(
      delivered(update({ namespace, key: 'draft', value: 'paused holder', taskId, fencingToken: 41 })),
    );
    expect(fresh.outcome).toBe('applied');
    expect(stale).toEqual({
      outcome: 'rejected',
      reason: 'stale-fencing-token',
      detail: `token 41 for task ${taskId} is older than 42, already applied by a newer lock holder`,
    });
    expect(await reader.get(namespace, 'draft')).toBeUndefined();
    const [rejection] = (await reader.rejections()).filter((r) => r.body.includes(namespace));
    expect(rejection).toMatchObject({ reason: 'stale-fencing-token', body: expect.stringContaining('paused holder') });
  });

  it('accepts earlier tokens until a newer holder has actually applied something', async () => {
    const { steward } = memory(dynamo);
    const namespace = freshNamespace();
    const taskId = `writer@${namespace}`;
    // Token 8 was issued (a new run started) but has applied nothing yet: token 7's queued updates still land.
    expect(await steward.handle(delivered(update({ namespace, key: 'k1', taskId, fencingToken: 7 })))).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle(delivered(update({ namespace, key: 'k2', taskId, fencingToken: 7 })))).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle(delivered(update({ namespace, key: 'k1', taskId, fencingToken: 8 })))).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle(delivered(update({ namespace, key: 'k2', taskId, fencingToken: 7 })))).toMatchObject({ reason: 'stale-fencing-token' });
  });

  it('records 20 malformed bodies as 20 rejections with reasons, losing none', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const bodies = [
      ...Array.from({ length: 7 }, (_, i) => `{"broken": ${i}`),
      ...Array.from({ length: 7 }, (_, i) => JSON.stringify({ ...update({ namespace, key: `k${i}` }), op: 'upsert' })),
      ...Array.from({ length: 6 }, (_, i) => JSON.stringify({ ...update({ namespace, key: `bad key ${i}` }) })),
    ];
    const results = [];
    for (const body of bodies) results.push(await steward.handle(delivered(body, `group-${namespace}`)));
    expect(results.map((r) => r.outcome)).toEqual(Array(20).fill('rejected'));
    const recorded = (await reader.rejections()).filter((r) => bodies.includes(r.body));
    expect(recorded).toHaveLength(20);
    expect(new Set(recorded.map((r) => r.reason))).toEqual(new Set(['unparseable', 'invalid-update']));
    expect(recorded.find((r) => r.body.includes('upsert'))?.detail).toMatch(/^memory update of ns-[0-9a-f]+\/k\d+: op: Invalid discriminator value. Expected 'put' \| 'merge' \| 'append' \| 'delete'$/);
    expect(recorded.find((r) => r.body.includes('bad key'))?.detail).toMatch(/^memory update of ns-[0-9a-f]+\/bad key \d: key: must be 1-255/);
  });

  it('records a redelivered rejection once', async () => {
    const { steward, reader } = memory(dynamo);
    const message = delivered(`not json ${freshNamespace()}`);
    await steward.handle(message);
    await steward.handle({ ...message, receiveCount: 2 });
    expect((await reader.rejections()).filter((r) => r.body === message.body)).toHaveLength(1);
  });

  it('rejects an append onto an object and a merge onto a list as type mismatches', async () => {
    const { steward } = memory(dynamo);
    const namespace = freshNamespace();
    await steward.handle(delivered(update({ namespace, key: 'obj', value: { a: 1 } })));
    await steward.handle(delivered(update({ namespace, key: 'list', value: [1] })));
    expect(await steward.handle(delivered(update({ namespace, key: 'obj', op: 'append', value: [2] })))).toEqual({
      outcome: 'rejected',
      reason: 'type-mismatch',
      detail: `cannot append into ${namespace}/obj, which holds a object value`,
    });
    expect(await steward.handle(delivered(update({ namespace, key: 'list', op: 'merge', value: { a: 1 } })))).toMatchObject({
      reason: 'type-mismatch',
    });
  });

  it('keeps tags and the pin with the entry: a put sets or clears them, a merge or append keeps them unless given', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    await steward.handle(delivered(update({ namespace, key: 'rule', value: { text: 'Plain English.' }, tags: ['style'], pinned: true })));
    expect(await reader.get(namespace, 'rule')).toMatchObject({ tags: ['style'], pinned: true });
    await steward.handle(delivered(update({ namespace, key: 'rule', op: 'merge', value: { since: 2026 } })));
    expect(await reader.get(namespace, 'rule')).toMatchObject({ value: { text: 'Plain English.', since: 2026 }, tags: ['style'], pinned: true });
    await steward.handle(delivered(update({ namespace, key: 'rule', op: 'merge', value: { since: 2027 }, pinned: false })));
    expect(await reader.get(namespace, 'rule')).toMatchObject({ tags: ['style'], pinned: false });
    await steward.handle(delivered(update({ namespace, key: 'rule', value: 'replaced' })));
    expect(await reader.get(namespace, 'rule')).toMatchObject({ value: 'replaced', tags: [], pinned: false });
  });

  it('refuses tags that are not a short list of short strings, naming the field', async () => {
    const { steward } = memory(dynamo);
    const result = await steward.handle(delivered(update({ namespace: freshNamespace(), key: 'k', value: 1, tags: Array(21).fill('t') })));
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'invalid-update', detail: expect.stringMatching(/^memory update of ns-[0-9a-f]+\/k: tags: /) });
  });

  it('rejects an update sent in another message group, which would break per-key ordering', async () => {
    const { steward } = memory(dynamo);
    const namespace = freshNamespace();
    expect(await steward.handle(delivered(update({ namespace, key: 'k' }), 'writer'))).toMatchObject({
      reason: 'wrong-message-group',
    });
  });

  it('rejects an append that would outgrow the 400 KB item limit instead of retrying it forever', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const chunk = 'x'.repeat(220 * 1024);
    expect(await steward.handle(delivered(update({ namespace, key: 'big', op: 'append', value: [chunk] })))).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle(delivered(update({ namespace, key: 'big', op: 'append', value: [chunk] })))).toMatchObject({
      outcome: 'rejected',
      reason: 'too-large',
    });
    expect(((await reader.get(namespace, 'big'))?.value as string[]).length).toBe(1);
  });

  it('costs one store call per put or delete, fenced or not; a merge or append adds the re-stamp of its context index', async () => {
    const { steward, client } = memory(dynamo);
    const namespace = freshNamespace();
    const send = vi.spyOn(client, 'send');
    for (const [u, calls] of [
      [update({ namespace, key: 'a', value: { x: 1 } }), 1],
      [update({ namespace, key: 'a', op: 'merge', value: { y: 2 } }), 2],
      [update({ namespace, key: 'b', op: 'append', value: [1] }), 2],
      [update({ namespace, key: 'c', value: 1, taskId: 't', fencingToken: 1 }), 1],
      [update({ namespace, key: 'c', op: 'delete', taskId: 't', fencingToken: 1 }), 1],
      // A transaction returns no values: the fenced merge reads the merged entry back to index it.
      [update({ namespace, key: 'd', op: 'merge', value: { z: 3 }, taskId: 't', fencingToken: 1 }), 3],
    ] as const) {
      send.mockClear();
      await steward.handle(delivered(u));
      expect(send, `${u.op} ${u.key}`).toHaveBeenCalledTimes(calls);
    }
  });

  it('throws a transient store error so the queue retries it', async () => {
    const { steward, client } = memory(dynamo);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
    vi.spyOn(client, 'send').mockRejectedValueOnce(throttled);
    await expect(steward.handle(delivered(update({ namespace: freshNamespace(), key: 'k' })))).rejects.toBe(throttled);
  });
});

describe('memory steward with redriven updates', () => {
  it('orders a redriven update by its original sequence: applied if the key has not moved on, else superseded', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const first = delivered(update({ namespace, key: 'k', value: 'first' }));
    const deadLettered = delivered(update({ namespace, key: 'k', value: 'dead-lettered' }));
    const later = delivered(update({ namespace, key: 'k', value: 'later' }));
    await steward.handle(first);
    await steward.handle(later);
    // Redrive gives the dead-lettered update a new, higher sequence number; it carries the original one, believed
    // because the redrive's own role sent it.
    const redriven = { ...delivered(deadLettered.body), messageGroupId: deadLettered.messageGroupId, originalSequenceNumber: deadLettered.sequenceNumber, senderId: 'AROAREDRIVE:fn' };
    expect(await steward.handle(redriven)).toMatchObject({ outcome: 'rejected', reason: 'superseded' });
    expect((await reader.get(namespace, 'k'))?.value).toBe('later');

    const other = freshNamespace();
    const stuck = delivered(update({ namespace: other, key: 'k', value: 'stuck' }));
    const retried = { ...delivered(stuck.body), messageGroupId: stuck.messageGroupId, originalSequenceNumber: stuck.sequenceNumber, senderId: 'AROAREDRIVE:fn' };
    expect(await steward.handle(retried)).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle({ ...retried, messageId: 'sent-twice' })).toMatchObject({ outcome: 'duplicate' });
    expect((await reader.get(other, 'k'))?.value).toBe('stuck');
  });
});
