import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * Sliding windows in buckets, kept as attributes of one item per scope: `n<epoch>_<first minute>` (both base 36)
 * holds the count of the bucket starting at that minute, an atomic `ADD`. A bucket spans one minute for windows up to
 * an hour and `ceil(M / 60)` minutes for longer ones, so a window is at most 60 buckets (about 11 bytes each) however
 * long it is and however many outputs it counts: an update costs the same write units at 60 outputs per window as at
 * 5,000. No output id is kept in a count.
 *
 * The window is the sum of the current bucket and those that started within the last M minutes, so it reaches back
 * between M minus one bucket and M minutes: an output is forgotten up to one bucket early, never late. Buckets ahead
 * of the reader's clock (written by an emitter whose clock runs ahead) count too, so skewed clocks never let an output
 * past N. A bucket is named after the epoch it counts in: a new epoch (a breaker reset) starts every window empty.
 * Buckets that left their window (and a grace for slower clocks) are removed by the next counting update itself
 * (each process remembers what the last response showed as stale), so clean-up costs no call of its own.
 */

const MINUTE = 60_000;

/** The most buckets a window is kept in. */
export const BUCKETS_PER_WINDOW = 60;

/** Stale attributes one update removes at most (the expression stays small; the rest go with the next). */
export const REMOVE_AT_MOST = 40;

/** Minutes one bucket spans in a window of `windowMinutes`. */
export function bucketWidth(windowMinutes: number): number {
  return Math.max(1, Math.ceil(windowMinutes / BUCKETS_PER_WINDOW));
}

/** The current minute (minutes since the epoch of the clock). */
export function minuteOf(now: number): number {
  return Math.floor(now / MINUTE);
}

/** The attribute that counts `minute` in epoch `epoch`, in buckets `width` minutes wide. */
export function bucketName(epoch: number, minute: number, width = 1): string {
  return `n${epoch.toString(36)}_${(minute - (minute % width)).toString(36)}`;
}

const BUCKET = /^n([0-9a-z]+)_([0-9a-z]+)$/;
/** Buckets as earlier versions named them (`n_<epoch>_<minute>`, with `i_…` id sets): stale whenever seen. */
const LEGACY = /^[ni]_\d+_\d+$/;

function parse(name: string): { epoch: number; start: number } | undefined {
  const match = BUCKET.exec(name);
  return match ? { epoch: Number.parseInt(match[1]!, 36), start: Number.parseInt(match[2]!, 36) } : undefined;
}

/** The count of the window of `windowMinutes` ending at `minute`, summed from an item's buckets of `epoch`. */
export function windowOf(item: Record<string, unknown>, epoch: number, minute: number, windowMinutes: number): number {
  let count = 0;
  for (const [name, value] of Object.entries(item)) {
    const bucket = parse(name);
    if (bucket?.epoch === epoch && bucket.start > minute - windowMinutes && typeof value === 'number') count += value;
  }
  return count;
}

/**
 * Minutes a bucket is kept past its window: what another instance's clock, running behind this one's, may still
 * count. Clean-up never takes from a slower clock what its window still holds.
 */
export const CLEANUP_GRACE_MINUTES = 5;

/**
 * Bucket attributes of an item that no window of `windowMinutes` can count again: an earlier epoch, or older than the
 * window and its grace. A later epoch's buckets are never stale: a process that has not seen a reset yet must not
 * clear what the new epoch counted.
 */
export function staleBuckets(item: Record<string, unknown>, epoch: number, minute: number, windowMinutes: number): string[] {
  return Object.keys(item).filter((name) => {
    if (LEGACY.test(name)) return true;
    const bucket = parse(name);
    return bucket !== undefined && (bucket.epoch < epoch || (bucket.epoch === epoch && bucket.start <= minute - windowMinutes - CLEANUP_GRACE_MINUTES));
  });
}

/** A `REMOVE` clause for `names` (as `#r0, #r1, …`), or nothing. */
export function removeClause(names: readonly string[]): { clause: string; names: Record<string, string> } {
  if (names.length === 0) return { clause: '', names: {} };
  return { clause: ` REMOVE ${names.map((_, i) => `#r${i}`).join(', ')}`, names: Object.fromEntries(names.map((name, i) => [`#r${i}`, name])) };
}

export interface BucketCount {
  readonly epoch: number;
  readonly now: number;
  /** Buckets the caller's last count saw as stale: up to {@link REMOVE_AT_MOST} of them are removed. */
  readonly stale: readonly string[];
  /** Minutes a bucket spans (see {@link bucketWidth}). @default 1 */
  readonly width?: number;
  /** What to add. @default 1 */
  readonly by?: number;
  /** Other numeric attributes to add `by` to in the same update (a sequence, say). */
  readonly alsoAdd?: readonly string[];
  /** Attributes to set beside the count. */
  readonly set?: Readonly<Record<string, unknown>>;
}

/**
 * Adds one (or `by`) to the current bucket of a counting item, with `set`'s attributes beside it, in the same update
 * removing what the caller's last count saw as stale. Returns the item as the update left it, for `windowOf` and
 * `staleBuckets`.
 */
export async function countInBucket(
  client: DynamoDBDocumentClient,
  target: { readonly tableName: string; readonly key: Record<string, unknown> },
  count: BucketCount,
): Promise<Record<string, unknown>> {
  const bucket = bucketName(count.epoch, minuteOf(count.now), count.width);
  const remove = removeClause(count.stale.filter((name) => name !== bucket).slice(0, REMOVE_AT_MOST));
  const set = Object.entries(count.set ?? {});
  const adds = count.alsoAdd ?? [];
  const { Attributes = {} } = await client.send(
    new UpdateCommand({
      TableName: target.tableName,
      Key: target.key,
      UpdateExpression:
        `ADD #n :by${adds.map((_, i) => `, #a${i} :by`).join('')}` + `${set.length ? ` SET ${set.map((_, i) => `#s${i} = :s${i}`).join(', ')}` : ''}${remove.clause}`,
      ExpressionAttributeNames: {
        '#n': bucket,
        ...Object.fromEntries(adds.map((name, i) => [`#a${i}`, name])),
        ...Object.fromEntries(set.map(([name], i) => [`#s${i}`, name])),
        ...remove.names,
      },
      ExpressionAttributeValues: { ':by': count.by ?? 1, ...Object.fromEntries(set.map(([, value], i) => [`:s${i}`, value])) },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return Attributes;
}
