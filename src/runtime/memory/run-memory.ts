import { type MemoryClient, type SentUpdate, SubmitError } from './client.ts';
import type { MemoryEntry, MemoryReader } from './reader.ts';
import type { MemoryUpdate } from './update.ts';
import { NightshiftError } from '../../errors.ts';

/**
 * A schema a read value is checked against: any Standard Schema (zod 4, valibot, arktype), e.g. `z.object({…})`.
 * Only its `~standard.validate` is used, so no schema library is loaded by this module.
 */
export interface ValueSchema<T> {
  readonly '~standard': {
    validate(value: unknown): { readonly value: T; readonly issues?: undefined } | { readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[] } | Promise<unknown>;
  };
}

/** A memory value that does not match the schema its reader expected: names the entry and each problem. */
export class MemoryValueError extends NightshiftError {
  override readonly name = 'MemoryValueError';
}

/** How retrieval treats an entry: searched by its `tags` too; `pinned` (a house rule) always loaded first. */
export interface EntryOptions {
  readonly tags?: readonly string[];
  readonly pinned?: boolean;
}

/** A memory change as an agent's work function states it; the guard adds who, the fence and the idempotency id. */
export type MemoryChange =
  | ({ readonly op: 'put'; readonly namespace: string; readonly key: string; readonly value: unknown } & EntryOptions)
  | ({ readonly op: 'merge'; readonly namespace: string; readonly key: string; readonly value: Record<string, unknown> } & EntryOptions)
  | ({ readonly op: 'append'; readonly namespace: string; readonly key: string; readonly value: unknown[] } & EntryOptions)
  | { readonly op: 'delete'; readonly namespace: string; readonly key: string };

/** The memory updates a run had queued when it published an output (see {@link RunMemory.submitted}). */
export interface SubmittedMemory {
  /** How many idempotency ids `<runId>:<n>` the run assigned: `n` runs from 0 to this, less one. */
  readonly submitted: number;
  /** The `n` of those that never reached the queue. */
  readonly unsent: readonly number[];
}

export interface RunIdentity {
  readonly agentId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly fencingToken: number;
}

/**
 * Memory as one run sees it: reads go to the table, writes go to the steward's queue stamped with the run's lock
 * (task id and fencing token) and idempotency ids `<runId>:<n>`. Writes refuse once the run has lost its lock.
 */
export class RunMemory {
  private sequence = 0;
  /** Numbers `n` of the idempotency ids `<runId>:<n>` this run assigned but could not queue. */
  private readonly unsent: number[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly client: MemoryClient,
    private readonly reader: MemoryReader,
    private readonly run: RunIdentity,
    private readonly signal: AbortSignal,
  ) {}

  /** Queues the changes, in order, as one submission. */
  submit(changes: readonly MemoryChange[]): Promise<SentUpdate[]> {
    this.signal.throwIfAborted();
    const first = this.sequence;
    const updates = changes.map((change) => ({ ...change, ...this.run, idempotencyId: `${this.run.runId}:${this.sequence++}` }) as MemoryUpdate);
    const submitted = this.client.submit(updates).catch((error: unknown) => {
      // What did not reach the queue is never awaited downstream: only what SubmitError says was sent did.
      const sent = new Set(error instanceof SubmitError ? error.sent.map((s) => s.idempotencyId) : []);
      for (let n = first; n < first + updates.length; n++) if (!sent.has(`${this.run.runId}:${n}`)) this.unsent.push(n);
      throw error;
    });
    this.inFlight.add(submitted);
    void submitted.catch(() => undefined).finally(() => this.inFlight.delete(submitted));
    return submitted;
  }

  /**
   * What this run has queued so far, once every submission in flight settled: the ids `<runId>:<n>` for `n` below
   * `submitted`, less `unsent`. An output carries it, so a run it triggers can wait for the steward to have them.
   */
  async submitted(): Promise<SubmittedMemory> {
    await Promise.allSettled([...this.inFlight]);
    return { submitted: this.sequence, unsent: [...this.unsent].sort((a, b) => a - b) };
  }

  /** Replaces the value (and its tags and pin: a put without them clears them). */
  put(namespace: string, key: string, value: unknown, options: EntryOptions = {}) {
    return this.submit([{ op: 'put', namespace, key, value, ...options }]);
  }

  /** Sets the given fields of an object value; tags and pin change only if given. */
  merge(namespace: string, key: string, value: Record<string, unknown>, options: EntryOptions = {}) {
    return this.submit([{ op: 'merge', namespace, key, value, ...options }]);
  }

  append(namespace: string, key: string, ...items: unknown[]) {
    return this.submit([{ op: 'append', namespace, key, value: items }]);
  }

  delete(namespace: string, key: string) {
    return this.submit([{ op: 'delete', namespace, key }]);
  }

  /**
   * One entry, its value typed as `T`; given a schema, the value is checked against it and a mismatch throws
   * {@link MemoryValueError} (another agent wrote something this one does not understand).
   */
  async get<T = unknown>(namespace: string, key: string, schema?: ValueSchema<T>): Promise<MemoryEntry<T> | undefined> {
    const entry = await this.reader.get(namespace, key);
    if (!entry || !schema) return entry as MemoryEntry<T> | undefined;
    return { ...entry, value: await checkValue(schema, entry.value, `${namespace}/${key}`) };
  }

  /** Just the value of an entry (see {@link get}), or undefined when there is none. */
  async read<T = unknown>(namespace: string, key: string, schema?: ValueSchema<T>): Promise<T | undefined> {
    return (await this.get(namespace, key, schema))?.value;
  }

  query(namespace: string, options?: { limit?: number; startAfterKey?: string }) {
    return this.reader.query(namespace, options);
  }
}

async function checkValue<T>(schema: ValueSchema<T>, value: unknown, where: string): Promise<T> {
  const result = (await schema['~standard'].validate(value)) as { value: T; issues?: undefined } | { issues: readonly { message: string; path?: readonly unknown[] }[] };
  if (result.issues) {
    const problems = result.issues.map((i) => `${i.path?.length ? `${i.path.map((p) => (typeof p === 'object' && p !== null && 'key' in p ? String(p.key) : String(p))).join('.')}: ` : ''}${i.message}`);
    throw new MemoryValueError(`memory ${where} does not match the expected schema: ${problems.join('; ')}`);
  }
  return result.value;
}
