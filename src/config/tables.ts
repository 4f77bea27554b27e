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
  /** Global secondary indexes (string keys, projecting the keys plus `include`). @default - none */
  readonly globalIndexes?: readonly GlobalIndexSchema[];
}

/** A sparse global secondary index: only items that carry `partitionKey` appear in it. */
export interface GlobalIndexSchema {
  readonly indexName: string;
  /** String partition key attribute of the index. */
  readonly partitionKey: string;
  /** String sort key attribute of the index. */
  readonly sortKey: string;
  /** Non-key attributes projected into the index. */
  readonly include: readonly string[];
}

/**
 * What lazy-context retrieval reads instead of every entry: the steward stamps each live memory entry with these
 * attributes when it applies an update, and the memory table's sparse `context` index projects only them. One
 * Query of the index per namespace gives every entry's searchable text, token count, tags and pin; the chosen
 * entries are then read in one BatchGetItem. Tombstones carry no `ctxNamespace`, so they drop out of the index.
 */
export const CONTEXT_INDEX: GlobalIndexSchema = {
  indexName: 'context',
  partitionKey: 'ctxNamespace',
  sortKey: 'sk',
  include: ['ctxText', 'ctxTokens', 'ctxSequence', 'tags', 'pinned', 'updatedAt'],
};

export type TableRole = 'coordination' | 'memory' | 'counters';

export const TABLE_SCHEMAS: Readonly<Record<TableRole, TableSchema>> = {
  /** Locks (`pk = lock#<taskId>`) and heartbeats (`pk = heartbeat#<agentId>`). */
  coordination: { partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'ttl' },
  /** Shared agent memory, written only by the steward; no TTL: memory is never dropped behind anyone's back. */
  memory: { partitionKey: 'pk', sortKey: 'sk', globalIndexes: [CONTEXT_INDEX] },
  /** Breaker state and per-minute output counters. */
  counters: { partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'ttl' },
};
