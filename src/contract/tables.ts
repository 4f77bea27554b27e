import type { RESERVED_NAMESPACES } from '../config/namespaces.ts';
/**
 * The tables both floors share: key schema and TTL attribute of each (what the CDK constructs deploy and local mode
 * and the tests create in DynamoDB Local), and the key layout of every item the runtime writes, so a key is spelled
 * in one place.
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

/** Physical table name of each Nightshift table. */
export type TableNames = Readonly<Record<TableRole, string>>;

/** Table names for a prefix, as local mode names them: `<prefix>-coordination`, `<prefix>-memory`, `<prefix>-counters`. */
export function tableNames(prefix: string): TableNames {
  return { coordination: `${prefix}-coordination`, memory: `${prefix}-memory`, counters: `${prefix}-counters` };
}

export const TABLE_SCHEMAS: Readonly<Record<TableRole, TableSchema>> = {
  /** Locks, heartbeats and run history: see {@link KEYS}. */
  coordination: { partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'ttl' },
  /**
   * Shared agent memory, written only by the steward. The TTL attribute is set on rejection records alone (kept 14
   * days); entries never carry it (their fields are stored prefixed), so memory is never dropped behind anyone's back.
   */
  memory: { partitionKey: 'pk', sortKey: 'sk', globalIndexes: [CONTEXT_INDEX], timeToLiveAttribute: 'ttl' },
  /** Breaker state and per-minute output counters. */
  counters: { partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'ttl' },
};

/** The partition key of a namespace's entries in the memory table, which IAM's `dynamodb:LeadingKeys` sees. */
export function namespacePartitionKey(namespace: string): string {
  return `mem#${namespace}`;
}

/** The partition of an agent's receipts (`KEYS.memory.receipts`), which IAM's `dynamodb:LeadingKeys` sees. */
export function receiptsPartition(agentId: string): string {
  return `receipts#${agentId}`;
}

/** The partition key of a namespace's entry vectors (one item per entry, keyed like it), which the steward keeps. */
export function vectorPartitionKey(namespace: string): string {
  return `vec#${namespace}`;
}

/** The partition key prefix of the steward's rejection records: a name no namespace may take. */
export const REJECTED_PK: (typeof RESERVED_NAMESPACES)[number] = 'rejected';

/** Whose rejection records a message goes to when its sender is no agent of the pipeline. */
export const UNKNOWN_SENDER = 'unknown';

/**
 * The partition of one sender's rejection records (`rejected#<agent>`, or `rejected#unknown`): per sender, so a flood
 * of one agent's rejected updates never hides or slows the reading of another's.
 */
export function rejectionsPartition(sender: string): string {
  return `${REJECTED_PK}#${sender}`;
}

/** The partition of an agent's held outputs (`KEYS.counters.held`), which IAM's `dynamodb:LeadingKeys` sees. */
export function heldPartition(agentId: string): string {
  return `held#${agentId}`;
}

/** The partition key prefix of task locks (the ops CLI scans for it). */
export const LOCK_PK_PREFIX = 'lock#';

/** Every item key the runtime writes, by table. */
export const KEYS = {
  coordination: {
    /** The lease lock of one task (one scheduled slot of an agent). */
    lock: (taskId: string) => ({ pk: `${LOCK_PK_PREFIX}${taskId}`, sk: 'lock' }),
    /** An agent's latest heartbeat. */
    heartbeat: (agentId: string) => ({ pk: `heartbeat#${agentId}`, sk: 'heartbeat' }),
    /** The partition of an agent's run history; runs sort by `<started at, ISO>#<task id>`. */
    runsPartition: (agentId: string) => `runs#${agentId}`,
    run: (agentId: string, startedAt: string, taskId: string) => ({ pk: `runs#${agentId}`, sk: `${startedAt}#${taskId}` }),
  },
  memory: {
    /** A memory entry. */
    entry: (namespace: string, key: string) => ({ pk: namespacePartitionKey(namespace), sk: key }),
    /** The embedding of an entry's searchable text. */
    vector: (namespace: string, key: string) => ({ pk: vectorPartitionKey(namespace), sk: key }),
    /** The highest fencing token applied for a task. */
    fence: (taskId: string) => ({ pk: `fence#${taskId}`, sk: 'fence' }),
    /** The steward's failed embeddings, in minute buckets, with the last error: what the watch pages on. */
    embeddingFailures: { pk: 'embeddings', sk: 'failures' },
    /**
     * What the steward settled (applied, a duplicate, or rejected) of one run's updates: `settled` and `rejected`, sets
     * of idempotency ids. Written for agents others run on; their downstreams read it before they start.
     */
    receipts: (agentId: string, runId: string) => ({ pk: receiptsPartition(agentId), sk: runId }),
    /** How many of an agent's memory updates the steward took from its hourly quota, in minute buckets. */
    quota: (agentId: string) => ({ pk: `quota#${agentId}`, sk: 'updates' }),
    /** A rejected update, in its sender's partition, by when it was sent. */
    rejection: (sender: string, sentAt: number, messageId: string) => ({ pk: rejectionsPartition(sender), sk: `${new Date(sentAt).toISOString()}#${messageId}` }),
  },
  counters: {
    /** The pipeline's breaker state and its window's buckets. */
    breaker: { pk: 'breaker', sk: 'state' },
    /** An agent's own partition: its content claims (see `claim`). */
    outputs: (agentId: string) => ({ pk: `outputs#${agentId}`, sk: 'window' }),
    /** An agent's claim on one content (`hash`: hex) it published within its duplicate window. */
    claim: (agentId: string, hash: string) => ({ pk: `outputs#${agentId}`, sk: `claim#${hash}` }),
    /** Runs an agent's outside-event triggers started, per trigger (`sk` = `trigger-<index>`), in minute buckets. */
    events: (agentId: string, triggerIndex: number) => ({ pk: `events#${agentId}`, sk: `trigger-${triggerIndex}` }),
    /** An agent's outputs as the breaker function counted them: its to write, never an agent role's. */
    verified: (agentId: string) => ({ pk: `verified#${agentId}`, sk: 'window' }),
    /** An agent's model tokens on one UTC day. */
    tokens: (agentId: string, day: string) => ({ pk: `tokens#${agentId}`, sk: day }),
    /** One of an agent's outputs held for review, and its decision: the breaker function's and the deciders' to write. */
    held: (agentId: string, outputId: string) => ({ pk: heldPartition(agentId), sk: outputId }),
  },
} as const;
