import { type DynamoDBDocumentClient, GetCommand, QueryCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { entryKey, unpadSequence, valueOf } from './items.ts';
import { UNKNOWN_SENDER, rejectionsPartition } from '../../contract/tables.ts';
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
  /** The agent that sent it, or `unknown`. */
  readonly sender: string;
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
  /**
   * `senders`: whose rejection records to read (each sender has a partition of its own): the pipeline's agents, and
   * `unknown` for anyone else. @default ['unknown']
   */
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; senders?: readonly string[] }) {}

  private get senders(): readonly string[] {
    return this.options.senders ?? [UNKNOWN_SENDER];
  }

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
   * How many updates each sender had rejected after `sinceMs` (the watch's question), by sender, only those with
   * any. Per sender, one Query of its own partition (records key by when the update was sent: a day before `sinceMs`
   * on, newest first), counted by when each was rejected, at most {@link REJECTIONS_COUNTED_MAX} counted and
   * {@link REJECTION_PAGES_READ_MAX} pages read: a flood of one sender's rejections costs the watch a bounded read,
   * and never hides another's.
   */
  async rejectedSince(sinceMs: number): Promise<Record<string, number>> {
    const counts = await Promise.all(
      this.senders.map(async (sender) => {
        let count = 0;
        const pages = paginateQuery(
          { client: this.options.client, pageSize: REJECTIONS_COUNTED_MAX },
          {
            TableName: this.options.tableName,
            KeyConditionExpression: 'pk = :pk AND sk > :from',
            FilterExpression: 'rejectedAt > :since',
            ExpressionAttributeValues: { ':pk': rejectionsPartition(sender), ':from': new Date(sinceMs - 86_400_000).toISOString(), ':since': sinceMs },
            Select: 'COUNT',
            // Newest sent first: a flood's older records, already counted by earlier runs, are read last, if at all.
            ScanIndexForward: false,
          },
        );
        let pagesRead = 0;
        for await (const page of pages) {
          count += page.Count ?? 0;
          // Bounded whatever a sender floods: a watch run reads at most a few pages of any one sender's records.
          if (count >= REJECTIONS_COUNTED_MAX || ++pagesRead >= REJECTION_PAGES_READ_MAX) break;
        }
        return [sender, Math.min(count, REJECTIONS_COUNTED_MAX)] as const;
      }),
    );
    return Object.fromEntries(counts.filter(([, count]) => count > 0));
  }

  /** Rejected updates of every sender, oldest first, with their reasons, senders and original bodies. */
  async rejections(options: { limit?: number } = {}): Promise<RejectedUpdate[]> {
    const items: Record<string, unknown>[] = [];
    for (const sender of this.senders) {
      const pages = paginateQuery(
        { client: this.options.client },
        { TableName: this.options.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': rejectionsPartition(sender) }, ConsistentRead: true },
      );
      for await (const page of pages) {
        items.push(...(page.Items ?? []).map((item) => ({ ...item, sender })));
        if (options.limit !== undefined && items.length >= options.limit) break;
      }
    }
    items.sort((a, b) => (a.sk as string).localeCompare(b.sk as string));
    return items.slice(0, options.limit).map((i) => ({
      messageId: i.messageId as string,
      sender: i.sender as string,
      reason: i.reason as RejectionReason,
      detail: i.detail as string,
      body: i.body as string,
      ...(i.bodyBytes === undefined ? {} : { bodyBytes: i.bodyBytes as number, bodySha256: i.bodySha256 as string }),
      rejectedAt: i.rejectedAt as number,
    }));
  }
}

/** The most rejections the watch counts per sender and run: enough to page, bounded whatever a sender floods. */
export const REJECTIONS_COUNTED_MAX = 1_000;

/** The most Query pages (1 MB each at most) a watch run reads of one sender's rejections. */
export const REJECTION_PAGES_READ_MAX = 3;

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
