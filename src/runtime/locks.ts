import { conditionally } from './conditional.ts';
import { KEYS } from '../contract/tables.ts';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from './clock.ts';
import type { MetricsSink } from './metrics.ts';
import { NightshiftError } from '../errors.ts';

/**
 * Lease locks on the coordination table: the field report's `tasks/{task_id}.lock`, without the watchdog.
 *
 * - Acquire, renew and release are one conditional `UpdateItem` each. Expiry is part of every condition
 *   (`leaseExpiresAt <= now`): DynamoDB TTL deletes lazily, so an expired lock is usually still there.
 * - Each acquire returns a fencing token strictly greater than every token issued before for that task, including
 *   across takeovers. The token lives on the lock item and is incremented in the acquiring write. A lock item's TTL
 *   is set {@link TOKEN_HORIZON_MS} past its last use; if TTL removes it, the next token starts from the current time
 *   in milliseconds, which exceeds every earlier token as long as the task saw fewer acquisitions than milliseconds
 *   went by since it was first locked (10⁸ and more for a 7-day horizon) and writers' clocks disagree by less than the
 *   horizon.
 * - A lock can be released as *completed*: it can then never be acquired again. The agent guard uses this for
 *   scheduled slots, so a slot that Scheduler delivers twice runs once.
 */
export const TOKEN_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/** A held lock. Pass it to renew and release; pass `fencingToken` with every write made under the lock. */
export interface Lease {
  readonly taskId: string;
  readonly owner: string;
  readonly fencingToken: number;
  readonly leaseExpiresAt: number;
}

/** The lock is held by someone else whose lease has not expired. */
/** An operator asked to release a lock that does not exist. */
export class NoSuchLockError extends NightshiftError {
  override readonly name = 'NoSuchLockError';
}

export class LockHeldError extends NightshiftError {
  override readonly name = 'LockHeldError';
  constructor(
    readonly taskId: string,
    readonly owner: string,
    readonly leaseExpiresAt: number,
  ) {
    super(`Task ${taskId} is locked by ${owner} until ${new Date(leaseExpiresAt).toISOString()}`);
  }
}

/** The task was completed under an earlier lease and cannot be run again. */
export class TaskCompletedError extends NightshiftError {
  override readonly name = 'TaskCompletedError';
  constructor(
    readonly taskId: string,
    readonly completedBy: string,
    readonly completedAt: number,
  ) {
    super(`Task ${taskId} was completed by ${completedBy} at ${new Date(completedAt).toISOString()}`);
  }
}

/** The caller no longer holds the lock (another owner took over the expired lease, or it was released). */
export class LockLostError extends NightshiftError {
  override readonly name = 'LockLostError';
  constructor(
    readonly lease: Lease,
    readonly currentOwner: string | undefined,
    readonly currentToken: number | undefined,
  ) {
    super(
      `Lock on task ${lease.taskId} (token ${lease.fencingToken}) is lost; ` +
        (currentOwner ? `now held by ${currentOwner} with token ${currentToken}` : 'it is no longer held'),
    );
  }
}

interface LockItem {
  owner?: string;
  fencingToken?: number;
  leaseExpiresAt?: number;
  completedAt?: number;
  completedBy?: string;
}

export interface TaskLocksOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: Clock;
  readonly metrics?: MetricsSink;
}

export class TaskLocks {
  constructor(private readonly options: TaskLocksOptions) {}

  /**
   * Takes the lock if it is free, released, or its lease has expired. Throws {@link LockHeldError} or
   * {@link TaskCompletedError} (built from the item DynamoDB returns with the failed condition: no second read).
   */
  async acquire(taskId: string, owner: string, leaseMs: number): Promise<Lease> {
    assertLeaseMs(leaseMs);
    const now = this.options.clock.now();
    const leaseExpiresAt = now + leaseMs;
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: lockKey(taskId),
          UpdateExpression:
            'SET #owner = :owner, leaseExpiresAt = :leaseExpiresAt, acquiredAt = :now, #ttl = :ttl, ' +
            'fencingToken = if_not_exists(fencingToken, :now) + :one',
          ConditionExpression:
            '(attribute_not_exists(#owner) OR leaseExpiresAt <= :now) AND attribute_not_exists(completedAt)',
          ExpressionAttributeNames: { '#owner': 'owner', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':leaseExpiresAt': leaseExpiresAt,
            ':now': now,
            ':one': 1,
            ':ttl': ttlSeconds(leaseExpiresAt),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (!result.ok) {
      const current = (result.current ?? {}) as LockItem;
      if (current.completedAt !== undefined) throw new TaskCompletedError(taskId, current.completedBy ?? 'unknown', current.completedAt);
      throw new LockHeldError(taskId, current.owner ?? 'unknown', current.leaseExpiresAt ?? 0);
    }
    const previous = result.value.Attributes as LockItem | undefined;
    if (previous?.owner !== undefined) this.options.metrics?.count('LockTakeovers');
    return { taskId, owner, leaseExpiresAt, fencingToken: (previous?.fencingToken ?? now) + 1 };
  }

  /** Extends the lease. Throws {@link LockLostError} if another owner has taken the lock since. */
  async renew(lease: Lease, leaseMs: number): Promise<Lease> {
    assertLeaseMs(leaseMs);
    const leaseExpiresAt = this.options.clock.now() + leaseMs;
    await this.updateHeld(lease, 'SET leaseExpiresAt = :leaseExpiresAt, #ttl = :ttl', {
      ':leaseExpiresAt': leaseExpiresAt,
      ':ttl': ttlSeconds(leaseExpiresAt),
    });
    return { ...lease, leaseExpiresAt };
  }

  /**
   * Gives the lock up. With `completed`, the task is marked done and can never be acquired again. Throws
   * {@link LockLostError} if the caller no longer holds it: releasing someone else's lock is impossible.
   */
  async release(lease: Lease, options: { completed?: boolean } = {}): Promise<void> {
    const now = this.options.clock.now();
    const completion = options.completed ? ', completedAt = :now, completedBy = :owner' : '';
    await this.updateHeld(lease, `REMOVE #owner SET leaseExpiresAt = :now, releasedAt = :now, #ttl = :ttl${completion}`, {
      ':now': now,
      ':ttl': ttlSeconds(now),
    });
  }

  /**
   * Operator override: frees a lock whoever holds it, keeping its fencing token so the next holder's is still
   * higher (and the old holder's writes are still fenced off once the new holder writes). Returns the evicted owner.
   */
  async forceRelease(taskId: string, operator: string): Promise<string | undefined> {
    const now = this.options.clock.now();
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: lockKey(taskId),
          UpdateExpression: 'REMOVE #owner SET leaseExpiresAt = :now, releasedAt = :now, releasedBy = :operator',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now, ':operator': operator },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    if (!result.ok) throw new NoSuchLockError(`No lock exists for task ${taskId}`);
    return (result.value.Attributes as LockItem | undefined)?.owner;
  }

  private async updateHeld(lease: Lease, updateExpression: string, values: Record<string, unknown>): Promise<void> {
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: lockKey(lease.taskId),
          UpdateExpression: updateExpression,
          // The token identifies the holding: an expired lease nobody took over is still ours; a takeover is not.
          ConditionExpression: '#owner = :owner AND fencingToken = :token',
          ExpressionAttributeNames: { '#owner': 'owner', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ...values, ':owner': lease.owner, ':token': lease.fencingToken },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (!result.ok) {
      const current = (result.current ?? {}) as LockItem;
      throw new LockLostError(lease, current.owner, current.fencingToken);
    }
  }
}

const lockKey = KEYS.coordination.lock;

function ttlSeconds(lastUseMs: number): number {
  return Math.ceil((lastUseMs + TOKEN_HORIZON_MS) / 1000);
}

function assertLeaseMs(leaseMs: number): void {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new RangeError(`lease must be a positive duration, got ${leaseMs} ms`);
}
