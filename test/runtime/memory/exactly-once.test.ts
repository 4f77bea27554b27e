import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECENT_IDS_KEPT } from '../../../src/runtime/memory/recent-ids.ts';
import { MemorySteward } from '../../../src/runtime/memory/steward.ts';
import { MINUTE } from '../../support/coordination.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../../support/memory.ts';

/**
 * Exactly one effect per idempotency id, whenever it is re-sent: SQS FIFO's deduplication lasts five minutes, after
 * which a retry is a new message with a higher sequence number. The steward remembers the ids on the entry.
 */
const dynamo = await dynamoForTest('exactly-once');

describe('exactly once per idempotency id, beyond the queue\'s deduplication window', () => {
  it('gives an append or a put re-sent an hour later no second effect, and never brings an old value back', async () => {
    const { steward, reader, clock } = memory(dynamo);
    const namespace = freshNamespace();
    const first = update({ namespace, key: 'log', op: 'append', value: ['once'] });
    expect(await steward.handle(delivered(first))).toMatchObject({ outcome: 'applied' });
    await clock.advance(60 * MINUTE);
    expect(await steward.handle(delivered(first))).toMatchObject({ outcome: 'duplicate' }); // a new message, a higher sequence
    expect((await reader.get(namespace, 'log'))?.value).toEqual(['once']);

    const old = update({ namespace, key: 'doc', value: 'v1' });
    expect(await steward.handle(delivered(old))).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle(delivered(update({ namespace, key: 'doc', value: 'v2' })))).toMatchObject({ outcome: 'applied' });
    await clock.advance(30 * MINUTE);
    expect(await steward.handle(delivered(old))).toMatchObject({ outcome: 'duplicate' });
    expect((await reader.get(namespace, 'doc'))?.value).toBe('v2');
  });

  it('holds across steward instances that each know the entry only as they last wrote it', async () => {
    const { client, clock, reader } = memory(dynamo);
    const [one, two] = [0, 1].map(() => new MemorySteward({ client, tableName: dynamo.names.memory, clock }));
    const namespace = freshNamespace();
    const a = update({ namespace, key: 'k', value: 'a' });
    const b = update({ namespace, key: 'k', value: 'b' });
    expect(await one!.handle(delivered(a))).toMatchObject({ outcome: 'applied' });
    expect(await two!.handle(delivered(b))).toMatchObject({ outcome: 'applied' }); // two knew nothing: it learns and carries a's id
    expect(await one!.handle(delivered(a))).toMatchObject({ outcome: 'duplicate' }); // one's knowledge is stale; the id is still there
    expect(await two!.handle(delivered(a))).toMatchObject({ outcome: 'duplicate' });
    expect(await one!.handle(delivered(update({ namespace, key: 'k', value: 'c' })))).toMatchObject({ outcome: 'applied' });
    expect((await reader.get(namespace, 'k'))?.value).toBe('c');
    expect(await two!.handle(delivered(b))).toMatchObject({ outcome: 'duplicate' });
  });

  it(`keeps at most ${RECENT_IDS_KEPT} ids, for a day: the horizon is documented, not infinite`, async () => {
    const { steward, client, clock } = memory(dynamo);
    const namespace = freshNamespace();
    const first = update({ namespace, key: 'k', op: 'append', value: [0] });
    await steward.handle(delivered(first));
    for (let i = 1; i < RECENT_IDS_KEPT + 40; i++) {
      await clock.advance(1_000);
      await steward.handle(delivered(update({ namespace, key: 'k', op: 'append', value: [i] })));
    }
    const { Item } = await client.send(new GetCommand({ TableName: dynamo.names.memory, Key: { pk: `mem#${namespace}`, sk: 'k' }, ConsistentRead: true }));
    expect(Object.keys(Item ?? {}).filter((name) => name.startsWith('i:')).length).toBeLessThanOrEqual(RECENT_IDS_KEPT);
    // The oldest id made way for newer ones: re-sent now, it is new again. A recent one is still known for a day.
    const recent = update({ namespace, key: 'k', op: 'append', value: ['recent'] });
    await steward.handle(delivered(recent));
    expect(await steward.handle(delivered(first))).toMatchObject({ outcome: 'applied' });
    await clock.advance(23 * 60 * MINUTE);
    expect(await steward.handle(delivered(recent))).toMatchObject({ outcome: 'duplicate' });
    await clock.advance(2 * 60 * MINUTE);
    expect(await steward.handle(delivered(recent))).toMatchObject({ outcome: 'applied' }); // past the 24-hour horizon
  });

  it('applies each id at most once, whatever the re-sends, delays and instances (property)', async () => {
    const { client, clock, reader } = memory(dynamo);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ resend: fc.nat({ max: 5 }), fresh: fc.boolean(), instance: fc.nat({ max: 2 }), minutes: fc.nat({ max: 30 }), put: fc.boolean() }), { minLength: 1, maxLength: 15 }),
        async (steps) => {
          const namespace = freshNamespace();
          const stewards = [0, 1, 2].map(() => new MemorySteward({ client, tableName: dynamo.names.memory, clock }));
          const sent: ReturnType<typeof update>[] = [];
          for (const [i, step] of steps.entries()) {
            await clock.advance(step.minutes * MINUTE);
            const resent = !step.fresh && sent.length > 0 ? sent[step.resend % sent.length]! : undefined;
            const u = resent ?? update({ namespace, key: step.put ? 'doc' : 'log', ...(step.put ? { value: `v${i}` } : { op: 'append', value: [`e${i}`] }) } as Parameters<typeof update>[0]);
            if (!resent) sent.push(u);
            await stewards[step.instance]!.handle(delivered(u));
          }
          const log = ((await reader.get(namespace, 'log'))?.value as string[] | undefined) ?? [];
          expect(new Set(log).size).toBe(log.length); // no append applied twice
          expect(log.length).toBe(sent.filter((u) => u.op === 'append').length); // and each applied once
          const lastPut = sent.filter((u) => u.op === 'put').at(-1);
          if (lastPut) expect((await reader.get(namespace, 'doc'))?.value).toBe(lastPut.op === 'put' ? lastPut.value : undefined);
        },
      ),
      { numRuns: 40, seed: 4 },
    );
  });
});
