import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { REJECTED_PK, entryKey, unpadSequence, valueOf } from './items.ts';
import type { RejectionReason } from './steward.ts';

/** A memory entry as a reader sees it, with the sequence of the update that produced it. */
export interface MemoryEntry<T = unknown> {
  readonly namespace: string;
  readonly key: string;
  readonly value: T;
  /** SQS sequence number of the last applied update; compare two reads of a key to tell which is newer. */
  readonly sequence: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
  readonly runId: string;
  /** Searched with the key and text by retrieval. */
  readonly tags: readonly string[];
  /** Always in an agent's retrieved context first, within its budget (a house rule). */
  readonly pinned: boolean;
}

export interface RejectedUpdate {
  readonly messageId: string;
  readonly reason: RejectionReason;
  readonly detail: string;
  /** The body as sent, or its first 16 KB when longer (`bodyBytes` and `bodySha256` describe the whole). */
  readonly body: string;
  readonly bodyBytes?: number;
  readonly bodySha256?: string;
  readonly rejectedAt: number;
}

/** The read side of memory, for agents and operators: strongly consistent reads of what the steward applied. */
export class MemoryReader {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string }) {}

  /** One entry, or undefined if the key was never written or was deleted. */
  async get(namespace: string, key: string): Promise<MemoryEntry | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: entryKey(namespace, key), ConsistentRead: true }),
    );
    return Item && Item.kind !== 'deleted' ? toEntry(namespace, Item) : undefined;
  }

  /** The namespace's entries in key order, a page at a time. */
  async query(
    namespace: string,
    options: { limit?: number; startAfterKey?: string } = {},
  ): Promise<{ entries: MemoryEntry[]; nextKey?: string }> {
    const { pk } = entryKey(namespace, '');
    const result = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        Limit: options.limit,
        ...(options.startAfterKey === undefined ? {} : { ExclusiveStartKey: { pk, sk: options.startAfterKey } }),
      }),
    );
    const entries = (result.Items ?? []).filter((i) => i.kind !== 'deleted').map((i) => toEntry(namespace, i));
    const nextKey = result.LastEvaluatedKey?.sk as string | undefined;
    return nextKey === undefined ? { entries } : { entries, nextKey };
  }

  /**
   * How many updates the steward rejected after `sinceMs` (the watch's question): one Query of the rejections sent
   * within a day before then (records key by when the update was sent), counted by when each was rejected.
   */
  async rejectedSince(sinceMs: number): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk AND sk > :from',
          FilterExpression: 'rejectedAt > :since',
          ExpressionAttributeValues: { ':pk': REJECTED_PK, ':from': new Date(sinceMs - 86_400_000).toISOString(), ':since': sinceMs },
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  /** Rejected updates, oldest first, with their reasons and original bodies. */
  async rejections(options: { limit?: number } = {}): Promise<RejectedUpdate[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': REJECTED_PK },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && (options.limit === undefined || items.length < options.limit));
    return items.slice(0, options.limit).map((i) => ({
      messageId: i.messageId as string,
      reason: i.reason as RejectionReason,
      detail: i.detail as string,
      body: i.body as string,
      ...(i.bodyBytes === undefined ? {} : { bodyBytes: i.bodyBytes as number, bodySha256: i.bodySha256 as string }),
      rejectedAt: i.rejectedAt as number,
    }));
  }
}

/** A memory table item as a reader sees it. */
export function toEntry(namespace: string, item: Record<string, unknown>): MemoryEntry {
  return {
    namespace,
    key: item.sk as string,
    value: valueOf(item),
    sequence: unpadSequence(item.lastSequence as string),
    updatedAt: item.updatedAt as number,
    updatedBy: item.updatedBy as string,
    runId: item.runId as string,
    tags: (item.tags as string[] | undefined) ?? [],
    pinned: item.pinned === true,
  };
}
