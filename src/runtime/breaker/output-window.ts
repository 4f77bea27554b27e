import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../clock';

/**
 * Output accounting on the counter table.
 *
 * Sliding window: outputs are counted in one-minute buckets (`pk = count#<scope>#e<epoch>`, `sk` = the minute),
 * incremented with an atomic `ADD`, and the window is the sum of the buckets of the current minute and the M-1
 * before it. So the window reaches back between M-1 and M minutes: an output is forgotten up to one minute early,
 * never late. The epoch changes on every breaker reset, so a reset starts every window empty.
 *
 * Each increment returns the current bucket's new count atomically, and only earlier (settled) minutes are read,
 * so concurrent emitters in one minute each see a distinct total: exactly N of them are under the limit.
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export interface WindowCount {
  readonly count: number;
  /** Ids of the outputs counted in the window, oldest minute first. */
  readonly outputIds: readonly string[];
}

export class OutputWindows {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock }) {}

  /** Counts one output in `scope` and returns the window's total including it. */
  async count(scope: string, epoch: number, outputId: string, windowMinutes: number): Promise<WindowCount> {
    const { client, tableName, clock } = this.options;
    const minute = Math.floor(clock.now() / MINUTE);
    const pk = `count#${scope}#e${epoch}`;
    // The current minute's new count comes back from the increment itself: concurrent emitters each get their own.
    const { Attributes: current = {} } = await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk, sk: minuteKey(minute) },
        UpdateExpression: 'ADD outputs :one, outputIds :id SET #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':one': 1,
          ':id': new Set([outputId]),
          ':ttl': Math.ceil(((minute + windowMinutes) * MINUTE + DAY) / 1000),
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const earlier =
      windowMinutes > 1
        ? ((
            await client.send(
              new QueryCommand({
                TableName: tableName,
                KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
                ExpressionAttributeValues: {
                  ':pk': pk,
                  ':from': minuteKey(minute - windowMinutes + 1),
                  ':to': minuteKey(minute - 1),
                },
                ConsistentRead: true,
              }),
            )
          ).Items ?? [])
        : [];
    const buckets = [...earlier, current];
    return {
      count: buckets.reduce((sum, item) => sum + (item.outputs as number), 0),
      outputIds: buckets.flatMap((item) => [...((item.outputIds as Set<string> | undefined) ?? [])]),
    };
  }

  /**
   * Claims `contentHash` for `agentId` unless it was published within the window. Returns false for a duplicate.
   */
  async claimContent(agentId: string, contentHash: string, windowMinutes: number): Promise<boolean> {
    const now = this.options.clock.now();
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { pk: `published#${agentId}`, sk: contentHash, publishedAt: now, ttl: Math.ceil((now + windowMinutes * MINUTE + DAY) / 1000) },
          ConditionExpression: 'attribute_not_exists(pk) OR publishedAt <= :cutoff',
          ExpressionAttributeValues: { ':cutoff': now - windowMinutes * MINUTE },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Gives a claim back when the publish it guarded failed, so a retry of the same content is not suppressed. */
  async releaseContent(agentId: string, contentHash: string): Promise<void> {
    await this.options.client.send(
      new DeleteCommand({ TableName: this.options.tableName, Key: { pk: `published#${agentId}`, sk: contentHash } }),
    );
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

  private today(): string {
    return new Date(this.options.clock.now()).toISOString().slice(0, 10);
  }

  private tokensTtl(): number {
    return Math.ceil((this.options.clock.now() + 8 * DAY) / 1000);
  }
}

function tokensKey(agentId: string, day: string) {
  return { pk: `tokens#${agentId}`, sk: day };
}

function minuteKey(minute: number): string {
  return String(minute).padStart(12, '0');
}
