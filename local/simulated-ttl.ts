import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMAS, type TableNames, type TableRole } from '../src/contract/tables.ts';
import { conditionally } from '../src/runtime/conditional.ts';
import type { Clock } from '../src/runtime/clock.ts';

/**
 * DynamoDB TTL on a simulated clock. Local mode's tables are created without DynamoDB Local's TTL (which runs on
 * the real clock); this sweep stands in for AWS's, on the clock the pipeline runs on.
 *
 * Like AWS's it is lazy: an item is deleted some time after its TTL passed, never before. Each item's lag is fixed
 * by a hash of its table, key and TTL (so a run is reproducible) and spread up to `maxLagMs`, so items past their
 * TTL stay readable for a while and the runtime's "expired but still there" paths run, as do the "TTL already
 * removed it" ones. A delete is conditional on the TTL the sweep saw, so an item written again meanwhile stays.
 */
export interface SimulatedTtlOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tables: TableNames;
  readonly clock: Clock;
  /**
   * The longest an expired item outlives its TTL. AWS documents deletion "within a few days" of expiry.
   * @default 48 hours
   */
  readonly maxLagMs?: number;
}

const DEFAULT_MAX_LAG_MS = 48 * 3_600_000;
const FIVE_YEARS_MS = 5 * 365 * 86_400_000;

export class SimulatedTtl {
  private readonly maxLagMs: number;

  constructor(private readonly options: SimulatedTtlOptions) {
    this.maxLagMs = options.maxLagMs ?? DEFAULT_MAX_LAG_MS;
    if (!(this.maxLagMs >= 0)) throw new RangeError(`maxLagMs must be 0 or more, got ${this.maxLagMs}`);
  }

  /** How long after its TTL this item is deleted. */
  lagOf(tableName: string, key: Record<string, unknown>, ttlSeconds: number): number {
    if (this.maxLagMs === 0) return 0;
    const digest = createHash('sha256').update(JSON.stringify([tableName, key, ttlSeconds])).digest();
    return digest.readUInt32BE(0) % (this.maxLagMs + 1);
  }

  /** Deletes every item whose TTL passed at least its lag ago, by the simulated clock. Returns how many it deleted. */
  async sweep(): Promise<number> {
    const now = this.options.clock.now();
    let deleted = 0;
    for (const role of Object.keys(TABLE_SCHEMAS) as TableRole[]) {
      const attribute = TABLE_SCHEMAS[role].timeToLiveAttribute;
      if (attribute) deleted += await this.sweepTable(this.options.tables[role], role, attribute, now);
    }
    return deleted;
  }

  private async sweepTable(tableName: string, role: TableRole, attribute: string, now: number): Promise<number> {
    const { client } = this.options;
    const { partitionKey, sortKey } = TABLE_SCHEMAS[role];
    let deleted = 0;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          ProjectionExpression: '#pk, #sk, #ttl',
          // As AWS's: only numbers count, and a value more than five years in the past is ignored.
          FilterExpression: 'attribute_type(#ttl, :number) AND #ttl BETWEEN :oldest AND :now',
          ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey, '#ttl': attribute },
          ExpressionAttributeValues: { ':number': 'N', ':oldest': Math.floor((now - FIVE_YEARS_MS) / 1000), ':now': Math.floor(now / 1000) },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const ttl = item[attribute] as number;
        const key = { [partitionKey]: item[partitionKey], [sortKey]: item[sortKey] };
        if (ttl * 1000 + this.lagOf(tableName, key, ttl) > now) continue;
        const result = await conditionally(
          client.send(
            new DeleteCommand({
              TableName: tableName,
              Key: key,
              ConditionExpression: '#ttl = :seen',
              ExpressionAttributeNames: { '#ttl': attribute },
              ExpressionAttributeValues: { ':seen': ttl },
            }),
          ),
        );
        if (result.ok) deleted++;
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return deleted;
  }
}
