import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';
import type { Clock } from '../clock.ts';
import { REMOVE_AT_MOST, bucketNames, minuteOf, removeClause, staleBuckets, windowOf } from './output-window.ts';

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
    const minute = minuteOf(clock.now());
    const bucket = bucketNames(epoch, minute);
    const remove = removeClause((this.stale.get(agentId) ?? []).filter((name) => name !== bucket.count).slice(0, REMOVE_AT_MOST));
    const { Attributes = {} } = await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: KEYS.counters.verified(agentId),
        UpdateExpression: `ADD #n :one${remove.clause}`,
        ExpressionAttributeNames: { '#n': bucket.count, ...remove.names },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    this.stale.set(agentId, staleBuckets(Attributes, epoch, minute, keepMinutes));
    return windowOf(Attributes, epoch, minute, windowMinutes).count;
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
