import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { MemoryReader } from '../../../src/runtime/memory/reader.ts';
import { QUOTA_CHUNK, SenderQuotas } from '../../../src/runtime/memory/sender-quotas.ts';
import { MemorySteward, type Writer } from '../../../src/runtime/memory/steward.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, update } from '../../support/memory.ts';

const dynamo = await dynamoForTest('quotas');
const client = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
const START = Date.UTC(2026, 10, 25, 3);

/** Two agents with fresh ids (the quota's count is per agent id, kept in the table), one with a small quota. */
function setup(quota: number, clock = new ManualClock(START)) {
  const flooder = `flood-${randomUUID().slice(0, 6)}`;
  const quiet = `quiet-${randomUUID().slice(0, 6)}`;
  const floods = freshNamespace();
  const notes = freshNamespace();
  const writers = new Map<string, Writer>([
    ['AROAFLOOD', { agentId: flooder, writes: [floods], updatesPerHour: quota }],
    ['AROAQUIET', { agentId: quiet, writes: [notes], updatesPerHour: 600 }],
  ]);
  const steward = () => new MemorySteward({ client, tableName: dynamo.names.memory, clock, writers, redriver: 'AROAREDRIVE' });
  const reader = new MemoryReader({ client, tableName: dynamo.names.memory, senders: [flooder, quiet, 'unknown'] });
  const flood = (i: number, extra = {}) => ({ ...delivered(update({ namespace: floods, key: `k${i}`, value: i, agentId: flooder })), senderId: 'AROAFLOOD:run', ...extra });
  const note = (i: number) => ({ ...delivered(update({ namespace: notes, key: `n${i}`, value: i, agentId: quiet })), senderId: 'AROAQUIET:run' });
  return { steward, reader, flood, note, flooder, floods, clock };
}

describe("memory steward: each agent's hourly quota of updates", () => {
  it('applies an agent’s updates up to its quota and rejects the rest over-quota, with its body kept and the config field named; another agent is applied throughout', async () => {
    const { steward: make, reader, flood, note, flooder, floods } = setup(25);
    const steward = make();
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push((await steward.handle(flood(i))).outcome);
      if (i % 10 === 0) expect((await steward.handle(note(i))).outcome).toBe('applied');
    }
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(25);
    expect(outcomes.slice(25)).toEqual(Array(15).fill('rejected'));
    const rejections = await reader.rejections();
    const over = rejections.filter((r) => r.reason === 'over-quota');
    expect(over).toHaveLength(15);
    expect(over[0]!.detail).toContain(`agent '${flooder}' sent more than 25 memory updates in the last hour (its memory.maxUpdatesPerHour)`);
    expect(over.map((r) => JSON.parse(r.body).value).sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => 25 + i));
    expect(await reader.get(floods, 'k24')).toBeDefined();
    expect(await reader.get(floods, 'k25')).toBeUndefined();
  });

  it('takes from the quota again once the hour has moved on, and never counts rechecks while over it', async () => {
    const { steward: make, flood, clock } = setup(12);
    const steward = make();
    for (let i = 0; i < 12; i++) expect((await steward.handle(flood(i))).outcome).toBe('applied');
    // Over the quota for the rest of the hour, however often it is asked.
    for (let minute = 7; minute <= 56; minute += 7) {
      await clock.advance(7 * 60_000);
      expect((await steward.handle(flood(100 + minute))).outcome).toBe('rejected');
      expect((await make().handle(flood(150 + minute))).outcome).toBe('rejected');
    }
    await clock.advance(START + 61 * 60_000 - clock.now());
    const later = [];
    for (let i = 0; i < 13; i++) later.push((await make().handle(flood(200 + i))).outcome);
    expect(later.filter((o) => o === 'applied')).toHaveLength(12);
  });

  it("files an agent's over-quota rejections under its own name, whatever redrive attributes it sets itself", async () => {
    const { steward: make, flood, reader, flooder } = setup(2);
    const steward = make();
    const framing = { originalSenderId: 'AROAQUIET:run', originalSequenceNumber: '17000000000000000000' };
    const outcomes = [];
    for (let i = 0; i < 6; i++) outcomes.push((await steward.handle(flood(i, framing))).outcome);
    expect(outcomes).toEqual(['applied', 'applied', 'rejected', 'rejected', 'rejected', 'rejected']);
    const rejections = await reader.rejections();
    expect(rejections.filter((r) => r.reason === 'over-quota').map((r) => r.sender)).toEqual(Array(4).fill(flooder));
  });

  it('lets the operator’s redrive through whatever the quota: redriving is the operator’s decision', async () => {
    const { steward: make, flood } = setup(1);
    const steward = make();
    expect((await steward.handle(flood(0))).outcome).toBe('applied');
    expect((await steward.handle(flood(1))).outcome).toBe('rejected');
    const redriven = flood(2, { senderId: 'AROAREDRIVE:op', originalSenderId: 'AROAFLOOD:run', originalSequenceNumber: '17000000000000000000' });
    expect((await steward.handle(redriven)).outcome).toBe('applied');
  });

  it('property: however many steward instances take from one quota, concurrently and in any order, no more than the quota is ever granted in an hour', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 90 }), async (quota, instances, order) => {
        const agent = `prop-${randomUUID().slice(0, 8)}`;
        const clock = new ManualClock(START);
        const stewards = Array.from({ length: instances }, () => new SenderQuotas({ client, tableName: dynamo.names.memory, clock }));
        // Waves of concurrent takes, each by the instance the order names.
        let granted = 0;
        for (let wave = 0; wave < order.length; wave += 6) {
          const takes = order.slice(wave, wave + 6).map((i) => stewards[i % instances]!.take(agent, quota));
          granted += (await Promise.all(takes)).filter(Boolean).length;
        }
        expect(granted).toBeLessThanOrEqual(quota);
        // Every take was turned down only when the quota was spent, up to leases other instances still hold.
        expect(granted).toBeGreaterThanOrEqual(Math.min(order.length, quota - (instances - 1) * (QUOTA_CHUNK - 1)));
      }),
      { numRuns: 25 },
    );
  });
});
