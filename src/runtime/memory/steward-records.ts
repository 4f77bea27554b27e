import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';
import type { Clock } from '../clock.ts';
import { rejectionKey } from './items.ts';
import type { StewardMessage, StewardResult } from './steward-message.ts';
import type { MemoryUpdate } from './update.ts';

/** How long receipts are kept (TTL, clean-up only): past EventBridge's retries of the output events that await them. */
const RECEIPT_RETENTION_MS = 2 * 24 * 60 * 60_000;

/** How long rejection records are kept (TTL, clean-up only). */
const REJECTION_RETENTION_MS = 14 * 24 * 60 * 60_000;

/** The body prefix a rejection record keeps. */
export const REJECTED_BODY_BYTES = 16 * 1024;

/**
 * What the steward records besides memory: a rejection, with its reason and body, in its sender's partition; and,
 * for an agent others run on, the receipt of each update it settled, which the runs its outputs start wait for.
 */
export class StewardRecords {
  constructor(private readonly options: { readonly client: DynamoDBDocumentClient; readonly tableName: string; readonly clock: Clock }) {}

  /**
   * Notes a settled update in its run's receipt: the id in `settled`, and in `rejected` when rejected. Set additions,
   * so a redelivery changes nothing; under `agentId`, the sender's own (SQS's SenderId), whatever the update says, so
   * no agent can settle another's.
   */
  async receipt(agentId: string, update: MemoryUpdate, result: StewardResult): Promise<void> {
    const now = this.options.clock.now();
    await this.options.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: KEYS.memory.receipts(agentId, update.runId),
        UpdateExpression: `ADD settled :id${result.outcome === 'rejected' ? ', rejected :id' : ''} SET updatedAt = :now, #ttl = :ttl`,
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':id': new Set([update.idempotencyId]), ':now': now, ':ttl': Math.ceil((now + RECEIPT_RETENTION_MS) / 1000) },
      }),
    );
  }

  /** Records a rejection in `sender`'s partition, once however often the message is delivered. */
  async rejection(sender: string, message: StewardMessage, result: Extract<StewardResult, { outcome: 'rejected' }>): Promise<void> {
    const now = this.options.clock.now();
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...rejectionKey(sender, message.sentAt, message.messageId),
            reason: result.reason,
            // Bounded, so the record itself always fits an item: the body's first 16 KB, its size and its hash.
            detail: result.detail.slice(0, 2_000),
            body: truncateUtf8(message.body, REJECTED_BODY_BYTES),
            bodyBytes: Buffer.byteLength(message.body, 'utf8'),
            bodySha256: createHash('sha256').update(message.body).digest('hex'),
            messageId: message.messageId,
            messageGroupId: message.messageGroupId,
            sequenceNumber: message.sequenceNumber,
            receiveCount: message.receiveCount,
            rejectedAt: now,
            // Clean-up only (DynamoDB deletes lazily): readers count by rejectedAt, never by presence.
            ttl: Math.ceil((now + REJECTION_RETENTION_MS) / 1000),
          },
          // A redelivery of a message already recorded finds its record there: nothing to do.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

function truncateUtf8(text: string, bytes: number): string {
  const buffer = Buffer.from(text, 'utf8');
  return buffer.length <= bytes ? text : buffer.subarray(0, bytes).toString('utf8').replace(/\uFFFD$/, '');
}
