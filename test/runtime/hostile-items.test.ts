import { randomUUID } from 'node:crypto';
import { type AttributeValue, PutItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/runtime/breaker/alerts.ts';
import type { BreakerState } from '../../src/runtime/breaker/breaker-state.ts';
import { BEAT_DETAIL_MAX } from '../../src/runtime/heartbeats.ts';
import { RunHistory } from '../../src/runtime/run-history.ts';
import { Watch, storeSources } from '../../src/runtime/watch/watch.ts';
import { KEYS } from '../../src/contract/tables.ts';
import { MINUTE, coordination } from '../support/coordination.ts';
import { dynamoForTest } from '../support/dynamo.ts';

const dynamo = await dynamoForTest('hostile');
const HOUR = 60 * MINUTE;

/**
 * An agent's role may write its own heartbeat and its own run records. Whatever it puts there, the readers (the watch,
 * a downstream's upstream check, run history) keep working for everyone else: the attack of each class first, then a
 * property over arbitrary values in every attribute.
 */
function world() {
  const c = coordination(dynamo);
  const id = randomUUID().slice(0, 6);
  const hostile = `hostile-${id}`;
  const victim = `victim-${id}`;
  const history = new RunHistory({ client: c.client, tableName: c.tableName, clock: c.clock });
  const pages: Alert[] = [];
  const closed: BreakerState = { status: 'CLOSED', epoch: 0, trips: 0, restoreSchedules: [] } as BreakerState;
  const watch = () =>
    new Watch({
      spec: { label: `hostile ${id}`, agents: [{ id: hostile, silentAfterMs: 2 * HOUR }, { id: victim, silentAfterMs: 2 * HOUR }] },
      sources: storeSources({
        history,
        breaker: async () => closed,
        reader: { rejectedSince: async () => ({}) },
        queues: async () => ({ memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 }),
      }),
      client: c.client,
      tableName: c.tableName,
      clock: c.clock,
      alerts: { publish: async (alert) => void pages.push(alert) },
    });
  /** Writes a raw item as the hostile agent's role may: any attribute values, under its own keys. */
  const put = (key: { pk: string; sk: string }, attributes: Record<string, AttributeValue>) =>
    dynamo.client.send(new PutItemCommand({ TableName: c.tableName, Item: { pk: { S: key.pk }, sk: { S: key.sk }, ...attributes } }));
  const runRecord = (overrides: Record<string, AttributeValue> = {}, startedAt = new Date(c.clock.now()).toISOString()) => {
    const taskId = `${hostile}@${startedAt}`;
    const item: Record<string, AttributeValue> = {
      agentId: { S: hostile },
      taskId: { S: taskId },
      status: { S: 'completed' },
      startedAt: { S: startedAt },
      endedAt: { S: startedAt },
      degraded: { BOOL: false },
      published: { N: '1' },
      suppressed: { N: '0' },
      tokens: { M: { input: { N: '0' }, output: { N: '0' }, cacheRead: { N: '0' }, calls: { N: '0' } } },
      ...overrides,
    };
    return put(KEYS.coordination.run(hostile, startedAt, taskId), item);
  };
  const heartbeat = (overrides: Record<string, AttributeValue> = {}) =>
    put(KEYS.coordination.heartbeat(hostile), {
      agentId: { S: hostile },
      runId: { S: 'r1' },
      status: { S: 'succeeded' },
      beatAt: { N: String(c.clock.now()) },
      ...overrides,
    });
  return { ...c, hostile, victim, history, pages, watch, runRecord, heartbeat };
}

describe('items an agent writes, read by the guardrails as hostile input', () => {
  it('a run record with a number outside JavaScript’s range never stops the watch: the other agent’s silence still pages', async () => {
    const w = world();
    await w.watch().run(); // the watch's baseline
    await w.runRecord({ published: { N: '123456789012345678901.5' } }); // past 2^53 and not an integer: no JavaScript number, no BigInt
    await w.clock.advance(3 * HOUR);
    await expect(w.watch().run()).resolves.toMatchObject({ opened: expect.arrayContaining([`silent:${w.victim}`]) });
    expect(w.pages.map((p) => p.subject)).toContainEqual(expect.stringContaining(`${w.victim} is silent`));
  });

  it('a far-future completed run record does not switch off its agent’s own silence page', async () => {
    const w = world();
    await w.watch().run();
    await w.runRecord({}, new Date(w.clock.now() + 365 * 24 * HOUR).toISOString());
    await w.clock.advance(3 * HOUR);
    const tick = await w.watch().run();
    expect(tick.opened).toContain(`silent:${w.hostile}`);
    const unreadable: string[] = [];
    expect(await w.history.list([w.hostile], 20, (_, error) => unreadable.push(error.message))).toEqual([]);
    expect(unreadable).toEqual([expect.stringMatching(/run record .* is unreadable: startedAt is not a time within the clock skew allowed/)]);
  });

  it('an upstream heartbeat with a number out of range runs the downstream degraded, saying why, instead of failing it', async () => {
    const w = world();
    await w.heartbeat({ beatAt: { N: '9'.repeat(38) } });
    expect(await w.heartbeats.checkUpstream(w.hostile, 15 * MINUTE)).toEqual({
      state: 'missing',
      reason: expect.stringMatching(new RegExp(`^${w.hostile}'s heartbeat is unreadable: beatAt `)),
    });
  });

  it('a ~400 KB detail in an upstream heartbeat is quoted bounded, so the downstream’s own final beat stays far below the item limit', async () => {
    const w = world();
    await w.heartbeat({ status: { S: 'failed' }, detail: { S: 'x'.repeat(390_000) } });
    const health = await w.heartbeats.checkUpstream(w.hostile, 15 * MINUTE);
    expect(health.state).toBe('stale');
    const reason = 'reason' in health ? health.reason : '';
    expect(reason.length).toBeLessThan(BEAT_DETAIL_MAX + 100);
    // The downstream quotes it in its own beat: written, and bounded again on the way in.
    expect(await w.heartbeats.beat(w.victim, { runId: 'd1', status: 'failed', detail: `upstream: ${reason}${'y'.repeat(500_000)}` })).toBe(true);
    expect((await w.heartbeats.last(w.victim))!.detail!.length).toBeLessThanOrEqual(BEAT_DETAIL_MAX + 1);
  });

  it('property: arbitrary values in any attribute of an agent’s heartbeat and run records never stop the readers or the watch paging others', async () => {
    const scalar: fc.Arbitrary<AttributeValue> = fc.oneof(
      fc.constantFrom('1e100', '-1e100', '9'.repeat(38), '123456789012345678901.5', '-98765432109876543210.25', '1e-130', '0.5', '-1', '9007199254740993').map((n) => ({ N: n })),
      fc.string({ maxLength: 40 }).map((s) => ({ S: s })),
      fc.integer({ min: 1_000, max: 180_000 }).map((n) => ({ S: 'é'.repeat(n) })), // up to 360 KB: what an item may hold
      fc.constantFrom('9999-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z', 'not a date', '').map((s) => ({ S: s })),
      fc.boolean().map((b) => ({ BOOL: b })),
      fc.constant({ NULL: true }),
    );
    const nested = fc.integer({ min: 1, max: 30 }).map((depth) => {
      let value: AttributeValue = { S: 'deep' };
      for (let i = 0; i < depth; i++) value = i % 2 ? { L: [value] } : { M: { inner: value } };
      return value;
    });
    const hostileValue = fc.oneof(scalar, nested);
    const beatAttributes = ['runId', 'status', 'beatAt', 'detail', 'agentId'];
    const runAttributes = ['agentId', 'taskId', 'status', 'startedAt', 'endedAt', 'detail', 'degraded', 'published', 'suppressed', 'tokens', 'trigger'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...beatAttributes), hostileValue, fc.constantFrom(...runAttributes), hostileValue, async (beatAttribute, beatValue, runAttribute, runValue) => {
        const w = world();
        await w.watch().run();
        await w.heartbeat({ [beatAttribute]: beatValue });
        await w.runRecord({ [runAttribute]: runValue });
        const health = await w.heartbeats.checkUpstream(w.hostile, 15 * MINUTE);
        if (health.state !== 'fresh') expect(health.reason.length).toBeLessThan(BEAT_DETAIL_MAX + 200);
        await w.history.list([w.hostile, w.victim]);
        await w.clock.advance(3 * HOUR);
        const tick = await w.watch().run();
        expect(tick.opened).toContain(`silent:${w.victim}`);
        expect(w.pages.filter((p) => p.subject.includes(`${w.victim} is silent`))).toHaveLength(1);
      }),
      { numRuns: 25 },
    );
  });
});
