import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';
import { countInBucket, minuteOf, staleBuckets, windowOf } from '../breaker/window-buckets.ts';
import type { Clock } from '../clock.ts';

/** The window a sender's quota counts in. */
export const QUOTA_WINDOW_MINUTES = 60;

/**
 * How many updates a steward instance takes from a sender's quota in one store call, and so how far past its quota
 * a sender can get: at most this many less one per steward instance that served it in the hour.
 */
export const QUOTA_CHUNK = 10;

const MINUTE = 60_000;

/**
 * Each agent's hourly quota of memory updates, as the steward takes from it: a count in minute buckets of the memory
 * table (`quota#<agent>`), which only the steward writes. A busy instance takes up to {@link QUOTA_CHUNK} at a time
 * and spends them while the bucket they were counted in stays in the window, so the quota costs one store call per
 * ten updates;
 * a sender found over its quota is not asked about again for a minute, and what a chunk could not grant is given
 * back, so rechecks never fill the count themselves.
 */
export class SenderQuotas {
  private readonly leases = new Map<string, { left: number; until: number; chunk: number }>();
  private readonly stale = new Map<string, string[]>();
  private readonly overUntil = new Map<string, number>();
  /** Per agent, the take in flight: an instance's takes of one quota go one at a time, so they share its lease. */
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(private readonly options: { readonly client: DynamoDBDocumentClient; readonly tableName: string; readonly clock: Clock }) {}

  /** Takes one update from `agentId`'s quota of `perHour` in any 60 minutes: false when it is spent. */
  async take(agentId: string, perHour: number): Promise<boolean> {
    const previous = this.turns.get(agentId) ?? Promise.resolve();
    const turn = previous.then(() => this.takeNow(agentId, perHour));
    const settled = turn.catch(() => undefined);
    this.turns.set(agentId, settled);
    void settled.then(() => {
      if (this.turns.get(agentId) === settled) this.turns.delete(agentId);
    });
    return turn;
  }

  /** Returns one update taken but not applied (its apply failed and the queue retries it) to this instance's lease. */
  giveBack(agentId: string): void {
    const lease = this.leases.get(agentId);
    if (lease) lease.left++;
  }

  private async takeNow(agentId: string, perHour: number): Promise<boolean> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    const lease = this.leases.get(agentId);
    if (lease && lease.left > 0 && now < lease.until) {
      lease.left--;
      return true;
    }
    if (now < (this.overUntil.get(agentId) ?? -Infinity)) return false;
    // Slow start: a new instance takes one, then twice what it took last, up to the chunk: a sender's quota is not
    // spent on leases of instances that serve it once.
    const chunk = Math.min(QUOTA_CHUNK, perHour, lease ? lease.chunk * 2 : 1);
    const minute = minuteOf(now);
    const target = { tableName, key: KEYS.memory.quota(agentId) };
    const item = await countInBucket(client, target, { epoch: 0, now, stale: this.stale.get(agentId) ?? [], by: chunk });
    this.stale.set(agentId, staleBuckets(item, 0, minute, QUOTA_WINDOW_MINUTES));
    const before = windowOf(item, 0, minute, QUOTA_WINDOW_MINUTES) - chunk;
    const granted = Math.max(0, Math.min(chunk, perHour - before));
    // What this chunk could not grant goes back into the same bucket: a sender over its quota never counts more.
    if (granted < chunk) await countInBucket(client, target, { epoch: 0, now, stale: [], by: granted - chunk });
    if (granted === 0) {
      this.leases.delete(agentId);
      this.overUntil.set(agentId, now + MINUTE);
      return false;
    }
    this.overUntil.delete(agentId);
    // Spendable while the bucket they were counted in is still in the window.
    this.leases.set(agentId, { left: granted - 1, until: (minute + QUOTA_WINDOW_MINUTES - 1) * MINUTE, chunk });
    return true;
  }
}
