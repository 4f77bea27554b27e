import type { EntryVectors } from './entry-vectors.ts';

/**
 * Embedding, off the steward's ordered write path. The steward writes an entry and goes on to the next update; the
 * entry is found by its words at once (the context index is part of the write) and by meaning once the embedder has
 * seen the change. In the cloud the change is a record of the memory table's DynamoDB stream (its new image), read
 * by the embedder function with retries; locally it is the steward's write, handed to the local embedder.
 */

/** A memory entry as the steward left it: the new image of its item. */
export interface EntryChange {
  readonly namespace: string;
  readonly key: string;
  readonly item: Readonly<Record<string, unknown>>;
}

const ENTRY_PARTITION = /^mem#(.+)$/;

/**
 * The entry an item's new image is, or nothing for every other item of the table (vectors, receipts, quotas,
 * rejections), and for an image that is not one (read as hostile: whatever wrote it, only the shape is believed).
 */
export function entryChangeOf(image: Readonly<Record<string, unknown>> | undefined): EntryChange | undefined {
  if (!image || typeof image.pk !== 'string' || typeof image.sk !== 'string') return undefined;
  const namespace = ENTRY_PARTITION.exec(image.pk)?.[1];
  if (namespace === undefined || image.sk.length === 0) return undefined;
  return { namespace, key: image.sk, item: image };
}

/**
 * The local stand-in for the table's stream and the embedder function: changes queue as the steward writes them,
 * and `drain` embeds them apart from the steward (the local pipeline drains it after the steward's turn, as the
 * stream's consumer runs beside the steward in the cloud). A change that fails stays queued for the next drain, up
 * to `maxAttempts` (the first and the event source mapping's three retries), then is given up on, as the stream's
 * on-failure destination would take it: its failures are recorded either way.
 */
export class LocalEmbedQueue {
  private readonly queue: { change: EntryChange; attempts: number }[] = [];
  given = 0;

  constructor(
    private readonly vectors: EntryVectors,
    /** The first attempt and the event source mapping's three retries. */
    private readonly maxAttempts = 4,
  ) {}

  push(change: EntryChange): void {
    this.queue.push({ change, attempts: 0 });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Drains until nothing is left: each change embedded, or given up after its attempts (a run's or a test's end). */
  async drainAll(): Promise<void> {
    while (this.queue.length > 0) await this.drain();
  }

  async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      const { namespace, key, item } = next.change;
      const failed = (await this.vectors.stamp(namespace, key, item)) === 'failed';
      if (!failed || ++next.attempts >= this.maxAttempts) {
        if (failed) this.given++;
        this.queue.shift();
        continue;
      }
      return; // retried on the next drain, in order
    }
  }
}
