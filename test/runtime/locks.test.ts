import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  type Lease,
  LockHeldError,
  LockLostError,
  TOKEN_HORIZON_MS,
  TaskCompletedError,
} from '../../src/runtime/locks.ts';
import { MINUTE, coordination } from '../support/coordination.ts';
import { dynamoForTest } from '../support/dynamo.ts';

const dynamo = await dynamoForTest('locks');
const task = () => `task-${randomUUID()}`;

describe('lock', () => {
  it('lets exactly one of 50 concurrent acquirers win; the others learn the owner and expiry', async () => {
    const { locks, clock } = coordination(dynamo);
    const taskId = task();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => locks.acquire(taskId, `owner-${i}`, 10 * MINUTE)),
    );
    const winners = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.value;
    const losers = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(losers).toHaveLength(49);
    for (const loser of losers) {
      expect(loser).toBeInstanceOf(LockHeldError);
      expect(loser).toMatchObject({ taskId, owner: winner.owner, leaseExpiresAt: clock.now() + 10 * MINUTE });
    }
  });

  it('lets a second owner take over after the lease expires, with a higher token; the first has lost it', async () => {
    const { locks, clock, client, tableName, metrics } = coordination(dynamo);
    const taskId = task();
    const first = await locks.acquire(taskId, 'first', 5 * MINUTE);
    await expect(locks.acquire(taskId, 'second', 5 * MINUTE)).rejects.toBeInstanceOf(LockHeldError);

    await clock.advance(5 * MINUTE);
    // TTL has not deleted anything: the expired lock is still in the table, and expiry alone lets the takeover in.
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: `lock#${taskId}`, sk: 'lock' } }));
    expect(Item).toMatchObject({ owner: 'first' });
    const second = await locks.acquire(taskId, 'second', 5 * MINUTE);

    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(metrics.get('LockTakeovers')).toBe(1);
    await expect(locks.renew(first, 5 * MINUTE)).rejects.toMatchObject({
      name: 'LockLostError',
      currentOwner: 'second',
      currentToken: second.fencingToken,
    });
    await expect(locks.release(first)).rejects.toBeInstanceOf(LockLostError);
    await expect(locks.renew(second, 5 * MINUTE)).resolves.toMatchObject({ owner: 'second' });
  });

  it('renews a lease so nobody can take it over', async () => {
    const { locks, clock } = coordination(dynamo);
    const taskId = task();
    const lease = await locks.acquire(taskId, 'a', 5 * MINUTE);
    await clock.advance(4 * MINUTE);
    const renewed = await locks.renew(lease, 5 * MINUTE);
    await clock.advance(4 * MINUTE);
    await expect(locks.acquire(taskId, 'b', 5 * MINUTE)).rejects.toMatchObject({
      owner: 'a',
      leaseExpiresAt: renewed.leaseExpiresAt,
    });
    expect(renewed.fencingToken).toBe(lease.fencingToken);
  });

  it('frees the lock on release, and the next holder gets a higher token', async () => {
    const { locks, metrics } = coordination(dynamo);
    const taskId = task();
    const first = await locks.acquire(taskId, 'a', 5 * MINUTE);
    await locks.release(first);
    const second = await locks.acquire(taskId, 'b', 5 * MINUTE);
    expect(second.fencingToken).toBe(first.fencingToken + 1);
    expect(metrics.get('LockTakeovers')).toBe(0);
  });

  it('never lets anyone release a lock they do not hold', async () => {
    const { locks } = coordination(dynamo);
    const taskId = task();
    const held = await locks.acquire(taskId, 'a', 5 * MINUTE);
    const forged: Lease = { ...held, owner: 'intruder' };
    await expect(locks.release(forged)).rejects.toBeInstanceOf(LockLostError);
    await expect(locks.release({ ...held, fencingToken: held.fencingToken - 1 })).rejects.toBeInstanceOf(LockLostError);
    await expect(locks.acquire(taskId, 'b', 5 * MINUTE)).rejects.toBeInstanceOf(LockHeldError);
  });

  it('never hands out a completed task again', async () => {
    const { locks, clock } = coordination(dynamo);
    const taskId = task();
    await locks.release(await locks.acquire(taskId, 'a', 5 * MINUTE), { completed: true });
    await clock.advance(60 * MINUTE);
    await expect(locks.acquire(taskId, 'b', 5 * MINUTE)).rejects.toMatchObject({
      name: 'TaskCompletedError',
      completedBy: 'a',
    });
    await expect(locks.acquire(taskId, 'b', 5 * MINUTE)).rejects.toBeInstanceOf(TaskCompletedError);
  });

  it('keeps tokens increasing after TTL deletes an idle lock item', async () => {
    const { locks, clock, client, tableName } = coordination(dynamo);
    const taskId = task();
    let last = 0;
    for (let i = 0; i < 5; i++) {
      const lease = await locks.acquire(taskId, `a${i}`, MINUTE);
      last = lease.fencingToken;
      await locks.release(lease);
    }
    await clock.advance(TOKEN_HORIZON_MS);
    // What TTL would do, some time after the horizon:
    await client.send(new DeleteCommand({ TableName: tableName, Key: { pk: `lock#${taskId}`, sk: 'lock' } }));
    const after = await locks.acquire(taskId, 'b', MINUTE);
    expect(after.fencingToken).toBeGreaterThan(last);
  });

  it('acquires and releases in one store call each', async () => {
    const { locks, client } = coordination(dynamo);
    const send = vi.spyOn(client, 'send');
    const lease = await locks.acquire(task(), 'a', MINUTE);
    expect(send).toHaveBeenCalledTimes(1);
    await locks.release(lease);
    expect(send).toHaveBeenCalledTimes(2);
    await expect(locks.acquire(lease.taskId, 'b', MINUTE)).resolves.toBeDefined();
    expect(send).toHaveBeenCalledTimes(3);
  });

  it('refuses a lease that is not a positive duration', async () => {
    const { locks } = coordination(dynamo);
    await expect(locks.acquire(task(), 'a', 0)).rejects.toThrow('lease must be a positive duration, got 0 ms');
  });
});

type Op =
  | { kind: 'acquire'; owner: number; leaseMinutes: number }
  | { kind: 'renew'; owner: number; leaseMinutes: number }
  | { kind: 'release'; owner: number }
  | { kind: 'race'; owners: [number, number] }
  | { kind: 'advance'; minutes: number };

const owner = fc.integer({ min: 0, max: 2 });
const leaseMinutes = fc.integer({ min: 1, max: 10 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('acquire' as const), owner, leaseMinutes }),
  fc.record({ kind: fc.constant('renew' as const), owner, leaseMinutes }),
  fc.record({ kind: fc.constant('release' as const), owner }),
  fc.record({ kind: fc.constant('race' as const), owners: fc.tuple(owner, owner) }),
  fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 0, max: 12 }) }),
);

describe('lock under random interleavings (property)', () => {
  it('never has two owners holding unexpired leases, and tokens strictly increase', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const { locks, clock } = coordination(dynamo);
        const taskId = task();
        const held = new Map<number, Lease>();
        const tokens: number[] = [];
        const tryAcquire = async (who: number, minutes: number) => {
          try {
            const lease = await locks.acquire(taskId, `owner-${who}`, minutes * MINUTE);
            held.set(who, lease);
            tokens.push(lease.fencingToken);
          } catch (error) {
            if (!(error instanceof LockHeldError)) throw error;
          }
        };
        for (const step of ops) {
          if (step.kind === 'acquire') await tryAcquire(step.owner, step.leaseMinutes);
          if (step.kind === 'race') await Promise.all(step.owners.map((who) => tryAcquire(who, 5)));
          if (step.kind === 'advance') await clock.advance(step.minutes * MINUTE);
          if (step.kind === 'renew' || step.kind === 'release') {
            const lease = held.get(step.owner);
            if (!lease) continue;
            try {
              if (step.kind === 'renew') held.set(step.owner, await locks.renew(lease, step.leaseMinutes * MINUTE));
              else {
                await locks.release(lease);
                held.delete(step.owner);
              }
            } catch (error) {
              if (!(error instanceof LockLostError)) throw error;
              held.delete(step.owner);
            }
          }
          const now = clock.now();
          const holding = [...held.values()].filter((lease) => lease.leaseExpiresAt > now);
          expect(holding.length).toBeLessThanOrEqual(1);
        }
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
      }),
      { numRuns: 60 },
    );
  });
});
