/**
 * Key schema and TTL attribute of each Nightshift table: the one definition that the CDK constructs deploy and the
 * test harness and local mode create in DynamoDB Local, so the two can never drift apart.
 */
export interface TableSchema {
  /** String partition key attribute. */
  readonly partitionKey: string;
  /** String sort key attribute. */
  readonly sortKey: string;
  /**
   * Epoch-seconds attribute DynamoDB TTL deletes by. Clean-up only: TTL deletes lazily (often days late), so every
   * expiry check is made against the item's own expiry attribute in the write's condition, never against absence.
   */
  readonly timeToLiveAttribute?: string;
}

export type TableRole = 'coordination' | 'memory' | 'counters';

export const TABLE_SCHEMAS: Readonly<Record<TableRole, TableSchema>> = {
  /** Locks (`pk = lock#<taskId>`) and heartbeats (`pk = heartbeat#<agentId>`). */
  coordination: { partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'ttl' },
  /** Shared agent memory, written only by the steward; no TTL: memory is never dropped behind anyone's back. */
  memory: { partitionKey: 'pk', sortKey: 'sk' },
  /** Breaker state and per-minute output counters. */
  counters: { partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'ttl' },
};
