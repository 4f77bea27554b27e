import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';
import type { Clock } from '../clock.ts';
import { countInMinute, minuteOf, staleBuckets, windowOf } from './output-window.ts';

/**
 * Each agent's outputs as the breaker function counts them, on `verified#<agent>` (one item per agent, in minute
 * buckets of the counting epoch): items no agent role may write, so what a count request claims is checked against
 * them, never believed. One UpdateItem per counted output; a trip reads every agent's to name the one with the most.
 */
export class VerifiedCounts {
  /** Per agent, buckets the last count saw as stale: removed by the next. */
  private readonly stale = new Map<string, string[]>();

  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock }) {}

  /** Counts one output of `agentId` (buckets kept for `keepMinutes`) and returns its count over the last `windowMinutes`. */
  async count(agentId: string, epoch: number, keepMinutes: number, windowMinutes: number): Promise<number> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    const item = await countInMinute(client, { tableName, key: KEYS.counters.verified(agentId) }, { epoch, now, stale: this.stale.get(agentId) ?? [] });
    this.stale.set(agentId, staleBuckets(item, epoch, minuteOf(now), keepMinutes));
    return windowOf(item, epoch, minuteOf(now), windowMinutes).count;
  }

  /** Of `agentIds`, the one with the most outputs in the window (read on a trip only), or nothing when none counted. */
  async top(agentIds: readonly string[], epoch: number, windowMinutes: number): Promise<{ agentId: string; count: number } | undefined> {
    const { client, tableName, clock } = this.options;
    const minute = minuteOf(clock.now());
    const counts = await Promise.all(
      agentIds.map(async (agentId) => {
        const { Item = {} } = await client.send(new GetCommand({ TableName: tableName, Key: KEYS.counters.verified(agentId), ConsistentRead: true }));
        return { agentId, count: windowOf(Item, epoch, minute, windowMinutes).count };
      }),
    );
    return counts.reduce<{ agentId: string; count: number } | undefined>((best, next) => (next.count > (best?.count ?? 0) ? next : best), undefined);
  }
}
