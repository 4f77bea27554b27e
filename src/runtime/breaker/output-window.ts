import { conditionally } from '../conditional.ts';
import { KEYS } from '../../contract/tables.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../clock.ts';
import { countInBucket, minuteOf, staleBuckets, windowOf } from './window-buckets.ts';

/**
 * What an agent keeps on the counter table itself, each on items only it may write: its content claims (one item per
 * content published within the duplicate window), the runs its outside-event triggers start, and its model tokens.
 * Its outputs are counted by the breaker function (`VerifiedCounts`, `Breaker.countOutput`), never by the agent.
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** A content claim: whether this output holds it, and how to give it back. */
export interface ContentClaim {
  /** False when the agent published the same content within its duplicate window. */
  readonly claimed: boolean;
  /** Gives the claim back (when the output is refused or its publish failed); a no-op if not claimed. */
  readonly release: () => Promise<void>;
}

export class OutputWindows {
  /** Per trigger, what its item's last response showed as stale: removed by the next count. */
  private readonly stale = new Map<string, string[]>();

  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock }) {}

  /**
   * Claims `hash` for one output of `agentId` unless the agent published the same content within the last
   * `duplicateWindowMinutes`: one conditional update of the content's own item (`outputs#<agent>`, `claim#<hash>`),
   * whose size does not depend on how many contents the window holds. An expired claim is taken over by the same
   * update (its time is part of the condition; the TTL attribute only cleans up, lazily), so of concurrent emitters
   * of one content exactly one holds it.
   */
  async claim(agentId: string, hash: string, duplicateWindowMinutes: number): Promise<ContentClaim> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    const mine = `${now}|${randomUUID()}`;
    const key = KEYS.counters.claim(agentId, hash.slice(0, 32));
    const claimed = await conditionally(
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET #claim = :mine, claimedAt = :now, #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(claimedAt) OR claimedAt <= :cutoff',
          ExpressionAttributeNames: { '#claim': 'claim', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':mine': mine, ':now': now, ':cutoff': now - duplicateWindowMinutes * MINUTE, ':ttl': Math.ceil((now + duplicateWindowMinutes * MINUTE + DAY) / 1000) },
        }),
      ),
    );
    return {
      claimed: claimed.ok,
      release: async () => {
        if (!claimed.ok) return;
        // Expired at once (kept for the TTL to clean up), unless it is not ours any more: nothing to release then.
        await conditionally(
          client.send(
            new UpdateCommand({
              TableName: tableName,
              Key: key,
              UpdateExpression: 'SET claimedAt = :never',
              ConditionExpression: '#claim = :mine',
              ExpressionAttributeNames: { '#claim': 'claim' },
              ExpressionAttributeValues: { ':mine': mine, ':never': 0 },
            }),
          ),
        );
      },
    };
  }

  /**
   * Counts one run an outside-event trigger starts, in minute buckets on `events#<agent>` (that trigger's item), and
   * returns the count over the last `windowMinutes` including it. One store call; stale buckets go with the next.
   */
  async countEvent(agentId: string, triggerIndex: number, windowMinutes = 60): Promise<number> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    const staleKey = `events#${agentId}#${triggerIndex}`;
    const item = await countInBucket(
      client,
      { tableName, key: KEYS.counters.events(agentId, triggerIndex) },
      { epoch: 0, now, stale: this.stale.get(staleKey) ?? [], set: { ttl: Math.ceil((now + DAY) / 1000) } },
    );
    this.stale.set(staleKey, staleBuckets(item, 0, minuteOf(now), windowMinutes));
    return windowOf(item, 0, minuteOf(now), windowMinutes);
  }

  /**
   * Adds model tokens to the agent's spend for a UTC day (today unless `day` is given; it may be negative, to
   * settle a reservation); returns the day's total.
   */
  async addTokens(agentId: string, tokens: number, day = this.today()): Promise<number> {
    const { Attributes } = await this.options.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: tokensKey(agentId, day),
        UpdateExpression: 'ADD used :tokens SET #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':tokens': tokens, ':ttl': this.tokensTtl() },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Attributes?.used as number;
  }

  /**
   * Reserves `tokens` of today's budget in one conditional write: added only if the day's spend stays within
   * `budget`, so concurrent runs cannot both pass a check and overspend together. Settle the reservation with
   * {@link addTokens}(actual − reserved, reservation.day) once the real usage is known.
   */
  async reserveTokens(agentId: string, tokens: number, budget: number): Promise<{ reserved: true; day: string; used: number } | { reserved: false; day: string; used: number }> {
    const day = this.today();
    try {
      const { Attributes } = await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: tokensKey(agentId, day),
          UpdateExpression: 'ADD used :tokens SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':tokens': tokens, ':room': budget - tokens, ':ttl': this.tokensTtl() },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { reserved: true, day, used: Attributes?.used as number };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { reserved: false, day, used: Number(error.Item?.used?.N ?? 0) };
    }
  }

  /** The agent's model tokens spent today (UTC), reservations included. */
  async tokensSpent(agentId: string): Promise<number> {
    const { Item } = await this.options.client.send(new GetCommand({ TableName: this.options.tableName, Key: tokensKey(agentId, this.today()), ConsistentRead: true }));
    return typeof Item?.used === 'number' ? Item.used : 0;
  }

  private today(): string {
    return new Date(this.options.clock.now()).toISOString().slice(0, 10);
  }

  private tokensTtl(): number {
    return Math.ceil((this.options.clock.now() + 8 * DAY) / 1000);
  }
}

const tokensKey = KEYS.counters.tokens;
