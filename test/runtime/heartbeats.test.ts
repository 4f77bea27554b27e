import { randomUUID } from 'node:crypto';
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.ts';
import { CountingMetrics } from '../../src/runtime/metrics.ts';
import { Heartbeats } from '../../src/runtime/heartbeats.ts';
import { MINUTE, coordination } from '../support/coordination.ts';
import { dynamoForTest } from '../support/dynamo.ts';

const dynamo = await dynamoForTest('heartbeats');
const agent = () => `agent-${randomUUID().slice(0, 8)}`;

describe('heartbeats', () => {
  it('reports an upstream that is running and beating as fresh, with its age', async () => {
    const { heartbeats, clock } = coordination(dynamo);
    const id = agent();
    await heartbeats.beat(id, { runId: 'r1', status: 'running' });
    await clock.advance(4 * MINUTE);
    expect(await heartbeats.checkUpstream(id, 15 * MINUTE)).toMatchObject({
      state: 'fresh',
      ageMs: 4 * MINUTE,
      beat: { runId: 'r1', status: 'running' },
    });
  });

  it('reports a running upstream that stopped beating past the limit as stale (it died mid-run)', async () => {
    const { heartbeats, clock } = coordination(dynamo);
    const id = agent();
    await heartbeats.beat(id, { runId: 'r1', status: 'running' });
    await clock.advance(16 * MINUTE);
    expect(await heartbeats.checkUpstream(id, 15 * MINUTE)).toEqual({
      state: 'stale',
      ageMs: 16 * MINUTE,
      beat: expect.objectContaining({ status: 'running' }),
      reason: `${id} last beat 16 min ago while running (limit 15 min)`,
    });
  });

  it('treats an upstream idle since a successful run as fresh, however long ago', async () => {
    const { heartbeats, clock } = coordination(dynamo);
    const id = agent();
    await heartbeats.beat(id, { runId: 'r1', status: 'succeeded' });
    await clock.advance(20 * 60 * MINUTE);
    expect(await heartbeats.checkUpstream(id, 15 * MINUTE)).toMatchObject({ state: 'fresh', ageMs: 20 * 60 * MINUTE });
  });

  it('treats an upstream whose last run failed as stale, with the failure', async () => {
    const { heartbeats } = coordination(dynamo);
    const id = agent();
    await heartbeats.beat(id, { runId: 'r1', status: 'failed', detail: 'model timeout' });
    expect(await heartbeats.checkUpstream(id, 15 * MINUTE)).toMatchObject({
      state: 'stale',
      reason: `${id}'s last run failed: model timeout`,
    });
  });

  it('reports an upstream that never beat as missing', async () => {
    const { heartbeats } = coordination(dynamo);
    const id = agent();
    expect(await heartbeats.checkUpstream(id, 15 * MINUTE)).toEqual({
      state: 'missing',
      reason: `${id} has never reported a heartbeat`,
    });
  });

  it('drops a late beat older than the stored one', async () => {
    const { heartbeats, clock, client, tableName } = coordination(dynamo);
    const id = agent();
    await clock.advance(MINUTE);
    await heartbeats.beat(id, { runId: 'new', status: 'running' });
    const lagging = new ManualClock(clock.now() - MINUTE);
    const late = new Heartbeats({ client, tableName, clock: lagging });
    expect(await late.beat(id, { runId: 'old', status: 'failed' })).toBe(false);
    expect(await heartbeats.last(id)).toMatchObject({ runId: 'new', status: 'running' });
  });

  it('orders beats by run, not by the writers\' clocks (property over skews up to ±2 minutes)', async () => {
    const { client, clock, tableName } = coordination(dynamo);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ slotHour: fc.integer({ min: 0, max: 5 }), token: fc.integer({ min: 1, max: 3 }), skewMs: fc.integer({ min: -2 * MINUTE, max: 2 * MINUTE }) }), { minLength: 1, maxLength: 8 }),
        async (beats) => {
          const id = agent();
          const metrics = new CountingMetrics();
          for (const [i, b] of beats.entries()) {
            const writer = new Heartbeats({ client, tableName, clock: new ManualClock(clock.now() + b.skewMs), metrics });
            const slot = new Date(Date.UTC(2026, 10, 25, b.slotHour)).toISOString();
            await writer.beat(id, { runId: `run-${b.slotHour}-${b.token}-${i}`, status: 'running', order: { slot, fencingToken: b.token } });
          }
          // The stored beat is the one of the latest run (slot, then token); of equals, the last written.
          const later = (a: (typeof beats)[number], b: (typeof beats)[number]) => a.slotHour > b.slotHour || (a.slotHour === b.slotHour && a.token > b.token);
          const latest = beats.reduce((best, b, i) => (later(best.b, b) ? best : { b, i }), { b: beats[0]!, i: 0 });
          expect((await new Heartbeats({ client, tableName, clock }).last(id))?.runId).toBe(`run-${latest.b.slotHour}-${latest.b.token}-${latest.i}`);
          const lost = beats.filter((b, i) => beats.slice(0, i).some((a) => later(a, b))).length;
          expect(metrics.get('HeartbeatsSuperseded')).toBe(lost);
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });

  it('lets a run\'s last beat win over a late timer beat of the same run', async () => {
    const { heartbeats } = coordination(dynamo);
    const id = agent();
    const order = { slot: '2026-11-25T09:00:00.000Z', fencingToken: 1 };
    await heartbeats.beat(id, { runId: 'r', order, status: 'running' });
    const timer = heartbeats.beat(id, { runId: 'r', order, status: 'running' }); // numbered before the final beat...
    await heartbeats.beat(id, { runId: 'r', order, status: 'succeeded' });
    await timer; // ...whenever it lands
    expect(await heartbeats.last(id)).toMatchObject({ status: 'succeeded' });
  });

  it('throws a store error instead of calling the upstream stale', async () => {
    const { client, clock } = coordination(dynamo);
    const broken = new Heartbeats({ client, tableName: 'no-such-table', clock });
    await expect(broken.checkUpstream(agent(), 15 * MINUTE)).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
