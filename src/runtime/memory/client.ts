import { createHash, randomBytes } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { once } from '../once.ts';
import { MAX_MESSAGE_BYTES, type MemoryUpdate, encodeUpdate, messageGroupId, parseUpdate } from './update.ts';
import { NightshiftError } from '../../errors.ts';

/**
 * How agents submit memory updates: `SendMessageBatch` to the steward's FIFO queue, 10 a call.
 *
 * Order per key survives partial failures: a batch holds at most one update per message group, and the next batch
 * goes only once every entry of this one is in, so a retried entry can never land behind a later update of its
 * key. Failed entries are retried; if any still fails, {@link SubmitError} says which updates are in the queue and
 * which are not: nothing is dropped silently.
 */

export interface SentUpdate {
  readonly idempotencyId: string;
  readonly messageId: string;
  readonly sequenceNumber?: string;
}

export class SubmitError extends NightshiftError {
  override readonly name = 'SubmitError';
  constructor(
    readonly sent: readonly SentUpdate[],
    readonly unsent: readonly { update: MemoryUpdate; reason: string }[],
  ) {
    super(
      `${unsent.length} memory update(s) were not queued (${sent.length} were): ` +
        unsent.map((u) => `${u.update.idempotencyId}: ${u.reason}`).join('; '),
    );
  }
}

export interface MemoryClientOptions {
  /**
   * The SQS client, or how to make it with the first submission: a run that writes no memory then loads no SQS
   * client (an agent function's cold start does not carry it).
   */
  readonly sqs: SQSClient | (() => Promise<SQSClient>);
  readonly queueUrl: string;
  /** Attempts per entry before giving up. @default 3 */
  readonly maxAttempts?: number;
}

const MAX_BATCH_ENTRIES = 10;

export class MemoryClient {
  private readonly sqs: () => Promise<SQSClient>;

  constructor(private readonly options: MemoryClientOptions) {
    const given = options.sqs;
    this.sqs = typeof given === 'function' ? once(given) : async () => given;
  }

  /**
   * Never stored or sent: the deduplication id is a hash of it and the update's idempotency id. The idempotency id
   * is guessable (`<runId>:<n>`, and run ids are in items other agents may read); were it the deduplication id,
   * another agent could send first in the victim's message group and SQS would drop the victim's update as a
   * duplicate. Retries of a send from this client carry the same id, so SQS still drops those.
   */
  private readonly deduplicationSecret = randomBytes(32);

  /** The deduplication id of an update sent from this client: 43 characters nobody else can predict. */
  deduplicationId(idempotencyId: string): string {
    return createHash('sha256').update(this.deduplicationSecret).update(idempotencyId).digest('base64url');
  }

  /** Validates every update first (nothing is sent if one is invalid or too large), then queues them in order. */
  async submit(updates: readonly MemoryUpdate[]): Promise<SentUpdate[]> {
    const messages = updates.map((u) => {
      const update = parseUpdate(u);
      return { update, body: encodeUpdate(update), group: messageGroupId(update.namespace, update.key) };
    });
    const sent: SentUpdate[] = [];
    const batches = planBatches(messages);
    if (batches.length === 0) return sent;
    const [{ SendMessageBatchCommand }, sqs] = await Promise.all([import('@aws-sdk/client-sqs'), this.sqs()]);
    for (const [index, batch] of batches.entries()) {
      let pending = batch;
      let failures: { update: MemoryUpdate; reason: string }[] = [];
      for (let attempt = 1; pending.length > 0 && attempt <= (this.options.maxAttempts ?? 3); attempt++) {
        const result = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: pending.map((m, i) => ({
              Id: String(i),
              MessageBody: m.body,
              MessageGroupId: m.group,
              MessageDeduplicationId: this.deduplicationId(m.update.idempotencyId),
            })),
          }),
        );
        for (const ok of result.Successful ?? []) {
          const m = pending[Number(ok.Id)]!;
          sent.push({ idempotencyId: m.update.idempotencyId, messageId: ok.MessageId!, sequenceNumber: ok.SequenceNumber });
        }
        const failed = result.Failed ?? [];
        failures = failed.map((f) => ({ update: pending[Number(f.Id)]!.update, reason: f.Message ? `${f.Code}: ${f.Message}` : (f.Code ?? 'unknown error') }));
        // Sender faults (a malformed entry) will fail the same way again.
        if (failed.some((f) => f.SenderFault)) break;
        pending = failed.map((f) => pending[Number(f.Id)]!);
      }
      if (failures.length > 0) {
        const later = batches.slice(index + 1).flat();
        throw new SubmitError(sent, [
          ...failures,
          ...later.map((m) => ({ update: m.update, reason: 'not sent: an earlier update failed' })),
        ]);
      }
    }
    return sent;
  }
}

/**
 * Splits messages into batches of at most 10 entries and 256 KiB, with at most one message per group in a batch
 * and each group's messages in order across batches.
 */
export function planBatches<M extends { body: string; group: string }>(messages: readonly M[]): M[][] {
  const batches: { messages: M[]; bytes: number; groups: Set<string> }[] = [];
  const lastBatchOfGroup = new Map<string, number>();
  for (const message of messages) {
    const bytes = Buffer.byteLength(message.body, 'utf8');
    let index = (lastBatchOfGroup.get(message.group) ?? -1) + 1;
    while (
      index < batches.length &&
      (batches[index]!.messages.length >= MAX_BATCH_ENTRIES ||
        batches[index]!.bytes + bytes > MAX_MESSAGE_BYTES ||
        batches[index]!.groups.has(message.group))
    ) {
      index++;
    }
    if (index === batches.length) batches.push({ messages: [], bytes: 0, groups: new Set() });
    const batch = batches[index]!;
    batch.messages.push(message);
    batch.bytes += bytes;
    batch.groups.add(message.group);
    lastBatchOfGroup.set(message.group, index);
  }
  return batches.map((b) => b.messages);
}
