import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { MemoryReader } from '../../../src/runtime/memory/reader.ts';
import { MemoryReceipts, awaitUpstreamMemory } from '../../../src/runtime/memory/receipts.ts';
import { MemorySteward, type StewardMessage, type Writer } from '../../../src/runtime/memory/steward.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, update } from '../../support/memory.ts';

const dynamo = await dynamoForTest('causality');
const client = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });

/** True about once in `n`. */
const sometimes = (n: number) => fc.integer({ min: 1, max: n }).map((i) => i === 1);

/**
 * One upstream run's updates as they travel: sent in order (some never reach the queue), each key its own message
 * group, applied by the steward in batches whose size and timing the property picks, some delivered twice, some to a
 * namespace the agent may not write (rejected). The run its output starts waits for them, bounded.
 */
const scenario = fc.record({
  updates: fc.array(fc.record({ key: fc.integer({ min: 0, max: 3 }), unsent: sometimes(6), forbidden: sometimes(6), twice: sometimes(4) }), { minLength: 1, maxLength: 8 }),
  // What the steward does during each pause of the waiting run: how many messages it takes (0: it is down or behind).
  steward: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 12 }),
  // Whether the output event is delivered before the steward took anything, or after it took some first.
  before: fc.integer({ min: 0, max: 4 }),
});

describe('causality, as a property over any interleaving of queue delivery, steward batches and event delivery', () => {
  it('a run started by an output either sees every update its upstream queued before it, or is degraded with the reason', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ updates, steward: plan, before }) => {
        const clock = new ManualClock(Date.UTC(2026, 11, 6, 3));
        const agentId = `up-${randomUUID().slice(0, 8)}`;
        const runId = `run-${randomUUID().slice(0, 8)}`;
        const mine = freshNamespace();
        const theirs = freshNamespace();
        const writers = new Map<string, Writer>([['AROAUP', { agentId, writes: [mine], receipts: true }]]);
        const steward = new MemorySteward({ client, tableName: dynamo.names.memory, clock, writers });
        // The run's updates in the order it sent them; SQS keeps each group's order.
        const sent = updates.map((u, n) => ({ ...u, n, namespace: u.forbidden ? theirs : mine, value: `v${n}` }));
        const queue: StewardMessage[] = [];
        for (const u of sent.filter((s) => !s.unsent)) {
          const message = { ...delivered(update({ namespace: u.namespace, key: `k${u.key}`, value: u.value, agentId, runId, idempotencyId: `${runId}:${u.n}` })), senderId: 'AROAUP:run' };
          queue.push(message);
          if (u.twice) queue.push({ ...message, messageId: randomUUID(), receiveCount: 2 });
        }
        // The steward takes the oldest message of any group whose earlier messages are done: here, queue order.
        const take = async (count: number) => {
          for (let i = 0; i < count && queue.length > 0; i++) await steward.handle(queue.shift()!);
        };
        await take(before);
        let step = 0;
        const wait = await awaitUpstreamMemory(
          {
            receipts: new MemoryReceipts({ client, tableName: dynamo.names.memory }),
            clock,
            pause: async (ms) => {
              await take(plan[step++] ?? 0);
              await clock.advance(ms);
            },
          },
          { kind: 'output', eventId: 'e', from: agentId, outputId: `${runId}:0`, runId, degraded: false, payload: null, memory: { submitted: sent.length, unsent: sent.filter((s) => s.unsent).map((s) => s.n) } },
          10_000,
        );
        const reader = new MemoryReader({ client, tableName: dynamo.names.memory });
        const expected = new Map<number, string>();
        for (const u of sent) if (!u.unsent && !u.forbidden) expected.set(u.key, u.value);
        const seen = new Map<number, unknown>();
        for (const key of expected.keys()) seen.set(key, (await reader.get(mine, `k${key}`))?.value);
        const awaited = sent.filter((s) => !s.unsent).length;
        if (awaited === 0) {
          expect(wait).toBeUndefined();
          return;
        }
        if (wait!.pending === 0) {
          // Settled: every queued update is there (or was rejected, and the run sees memory without it).
          expect(seen).toEqual(expected);
          expect(wait!.rejected).toBe(sent.filter((s) => !s.unsent && s.forbidden).length);
          expect(wait!.reason).toBeUndefined();
        } else {
          // Not all settled within the bound: the run is degraded, saying how many of how many, and why.
          expect(wait!.waitedMs).toBeGreaterThanOrEqual(10_000);
          expect(wait!.reason).toBe(`${wait!.pending} of ${awaited} memory updates of ${agentId}'s run ${runId} not applied after ${Math.round(wait!.waitedMs / 1000)} s: the steward is behind or down`);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("no agent can settle another agent's updates: a receipt goes under the sender SQS names, whatever the update or its attributes say", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 6, 3));
    const [victim, forger] = [`victim-${randomUUID().slice(0, 6)}`, `forger-${randomUUID().slice(0, 6)}`];
    const ns = freshNamespace();
    const writers = new Map<string, Writer>([
      ['AROAVICTIM', { agentId: victim, writes: [ns], receipts: true }],
      ['AROAFORGER', { agentId: forger, writes: [ns], receipts: true }],
    ]);
    const steward = new MemorySteward({ client, tableName: dynamo.names.memory, clock, writers, redriver: 'AROAREDRIVE' });
    const runId = 'victim-run';
    const forged = update({ namespace: ns, key: 'k', value: 'x', agentId: victim, runId, idempotencyId: `${runId}:0` });
    await steward.handle({ ...delivered(forged), senderId: 'AROAFORGER:s' });
    await steward.handle({ ...delivered(forged), senderId: 'AROAFORGER:s', originalSenderId: 'AROAVICTIM:s', originalSequenceNumber: '1' });
    const receipts = new MemoryReceipts({ client, tableName: dynamo.names.memory });
    expect((await receipts.of(victim, runId)).settled.size).toBe(0);
    expect([...(await receipts.of(forger, runId)).rejected]).toEqual([`${runId}:0`]);
  });
});
