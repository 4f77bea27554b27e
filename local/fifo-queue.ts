import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../src/runtime/clock.ts';
import { NightshiftError } from '../src/errors.ts';

/**
 * An SQS FIFO queue in memory, with the semantics the steward relies on, on an injected clock:
 *
 * - per-group order: a group's messages are received in send order, and none of a group's messages is received
 *   while an earlier one of that group is in flight;
 * - deduplication: a deduplication id seen in the message's group within 5 minutes is accepted but not enqueued;
 * - visibility timeout: a received message comes back after the timeout unless deleted, with a new receipt handle;
 * - redrive: a message already received `maxReceiveCount` times moves to the dead-letter queue instead of being
 *   delivered again;
 * - a sequence number per message, increasing within (and across) groups.
 */

export const DEDUPLICATION_WINDOW_MS = 5 * 60_000;

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  readonly sequenceNumber: string;
  readonly sentAt: number;
  /** Who sent it (SQS's `SenderId` system attribute). */
  readonly senderId: string;
  readonly attributes: Readonly<Record<string, { DataType: string; StringValue?: string }>>;
  receiveCount: number;
  firstReceivedAt?: number;
  invisibleUntil?: number;
  receiptHandle?: string;
}

export class QueueError extends NightshiftError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export interface FifoQueueOptions {
  readonly name: string;
  readonly clock: Clock;
  /** @default 30 seconds */
  readonly visibilityTimeoutMs?: number;
  readonly deadLetter?: { readonly queue: FifoQueue; readonly maxReceiveCount: number };
}

const SEQUENCE_BASE = 10_000_000_000_000_000_000n;
let sequenceCounter = SEQUENCE_BASE;
const bigMax = (a: bigint, b: bigint) => (a > b ? a : b);

export class FifoQueue {
  private readonly messages: QueueMessage[] = [];
  /** Messages accepted (deduplicated sends not included). */
  sentCount = 0;
  private readonly seenDeduplicationIds = new Map<string, { at: number; messageId: string; sequenceNumber: string }>();

  constructor(readonly options: FifoQueueOptions) {}

  get name(): string {
    return this.options.name;
  }

  send(input: {
    body: string;
    groupId: string;
    deduplicationId: string;
    attributes?: QueueMessage['attributes'];
    /** @default 'local' */
    senderId?: string;
  }): { messageId: string; sequenceNumber: string; md5OfBody: string } {
    if (!input.groupId) throw new QueueError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
    if (!input.deduplicationId) {
      throw new QueueError(
        'InvalidParameterValue',
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }
    const now = this.options.clock.now();
    const md5OfBody = md5(input.body);
    const dedupKey = `${input.groupId}\u0000${input.deduplicationId}`;
    const seen = this.seenDeduplicationIds.get(dedupKey);
    if (seen && now - seen.at < DEDUPLICATION_WINDOW_MS) {
      return { messageId: seen.messageId, sequenceNumber: seen.sequenceNumber, md5OfBody };
    }
    // Like SQS's, sequence numbers grow with time: a run resumed on the same state (and a fresh queue) continues
    // above every number the steward has already applied.
    sequenceCounter = bigMax(sequenceCounter + 1n, SEQUENCE_BASE + BigInt(now) * 1_000n);
    const message: QueueMessage = {
      messageId: randomUUID(),
      body: input.body,
      md5OfBody,
      groupId: input.groupId,
      deduplicationId: input.deduplicationId,
      sequenceNumber: sequenceCounter.toString(),
      sentAt: now,
      senderId: input.senderId ?? 'local',
      attributes: input.attributes ?? {},
      receiveCount: 0,
    };
    this.messages.push(message);
    this.sentCount += 1;
    this.seenDeduplicationIds.set(dedupKey, { at: now, messageId: message.messageId, sequenceNumber: message.sequenceNumber });
    return { messageId: message.messageId, sequenceNumber: message.sequenceNumber, md5OfBody };
  }

  /** Moves a message back in (redrive, DLQ) keeping its identity but not its receive history. */
  private adopt(message: QueueMessage): void {
    this.messages.push({ ...message, receiveCount: 0, invisibleUntil: undefined, receiptHandle: undefined, firstReceivedAt: undefined });
  }

  receive(maxMessages = 1, visibilityTimeoutMs = this.options.visibilityTimeoutMs ?? 30_000): QueueMessage[] {
    const now = this.options.clock.now();
    const received: QueueMessage[] = [];
    const blockedGroups = new Set(this.messages.filter((m) => isInFlight(m, now)).map((m) => m.groupId));
    // Groups are served in the order of their oldest message; within a group, strictly in order.
    for (const message of [...this.messages]) {
      if (received.length >= maxMessages) break;
      if (blockedGroups.has(message.groupId)) continue;
      const deadLetter = this.options.deadLetter;
      if (deadLetter && message.receiveCount >= deadLetter.maxReceiveCount) {
        this.remove(message);
        deadLetter.queue.adopt(message);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.invisibleUntil = now + visibilityTimeoutMs;
      message.receiptHandle = `${message.messageId}#${randomUUID()}`;
      received.push(message);
    }
    return received;
  }

  delete(receiptHandle: string): void {
    const message = this.byHandle(receiptHandle);
    this.remove(message);
  }

  changeVisibility(receiptHandle: string, timeoutMs: number): void {
    const message = this.byHandle(receiptHandle);
    message.invisibleUntil = this.options.clock.now() + timeoutMs;
  }

  counts(): { visible: number; inFlight: number } {
    const now = this.options.clock.now();
    const inFlight = this.messages.filter((m) => isInFlight(m, now)).length;
    return { visible: this.messages.length - inFlight, inFlight };
  }

  purge(): void {
    this.messages.length = 0;
  }

  private byHandle(receiptHandle: string): QueueMessage {
    const message = this.messages.find((m) => m.receiptHandle === receiptHandle);
    if (!message) throw new QueueError('ReceiptHandleIsInvalid', `The receipt handle "${receiptHandle}" is not valid.`);
    return message;
  }

  private remove(message: QueueMessage): void {
    const index = this.messages.indexOf(message);
    if (index >= 0) this.messages.splice(index, 1);
  }
}

function isInFlight(message: QueueMessage, now: number): boolean {
  return message.invisibleUntil !== undefined && message.invisibleUntil > now;
}

export function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
