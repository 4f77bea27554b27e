import { randomUUID } from 'node:crypto';
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock';
import { Heartbeats } from '../../src/runtime/heartbeats';
import { MINUTE, coordination } from '../support/coordination';
import { dynamoForTest } from '../support/dynamo';

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

  it('throws a store error instead of calling the upstream stale', async () => {
    const { client, clock } = coordination(dynamo);
    const broken = new Heartbeats({ client, tableName: 'no-such-table', clock });
    await expect(broken.checkUpstream(agent(), 15 * MINUTE)).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
