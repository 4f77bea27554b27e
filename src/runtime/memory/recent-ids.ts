/**
 * Exactly one effect per idempotency id, however late it is re-sent. SQS FIFO drops a repeated deduplication id for
 * five minutes only; past that, a retry arrives as a new message with a higher sequence number. So each entry keeps
 * the ids of the updates applied to it as attributes of its own (`i:<id>` = when it was applied), every write is
 * conditional on its id not being there, and the write itself records it: one conditional write, as before.
 *
 * Bounded: an entry keeps the ids of the last {@link RECENT_IDS_KEPT} updates applied to it within
 * {@link RECENT_IDS_HORIZON_MS}; older ones are dropped by the next write. That is the horizon: an update re-sent
 * within 24 hours, with fewer than 64 newer updates to its key in between, has no second effect. (Each id kept
 * costs about 50 bytes on the item, which DynamoDB bills writes by: 64 is a few hundred bytes to 3 KB.)
 *
 * A put replaces the whole item, so it must carry the ids already there. The steward remembers, per entry, the ids
 * and sequence its last write left (from that write's returned item); the put is conditional on the entry still
 * being at that sequence. When another steward instance wrote in between, the condition fails, the failed write
 * returns the item as it is, and the put is sent again with its ids: two calls, only then.
 */
export const RECENT_IDS_KEPT = 64;
export const RECENT_IDS_HORIZON_MS = 24 * 60 * 60 * 1000;
export const ID_PREFIX = 'i:';

/** What the steward knows of an entry from the last item it saw: its sequence and its recent ids. */
export interface EntryIds {
  /** Padded sequence, or undefined for an entry that does not exist. */
  readonly lastSequence: string | undefined;
  /** Attribute name (`i:<id>`) → epoch ms applied. */
  readonly ids: ReadonlyMap<string, number>;
}

export function idAttribute(idempotencyId: string): string {
  return `${ID_PREFIX}${idempotencyId}`;
}

/** The ids and sequence of a stored item (undefined item: no entry). */
export function entryIds(item: Record<string, unknown> | undefined): EntryIds {
  if (!item) return { lastSequence: undefined, ids: new Map() };
  const ids = new Map<string, number>();
  for (const [name, value] of Object.entries(item)) if (name.startsWith(ID_PREFIX) && typeof value === 'number') ids.set(name, value);
  return { lastSequence: item.lastSequence as string | undefined, ids };
}

/** Splits an entry's ids into those to keep (newest first, within the horizon and the count) and those to drop. */
export function keepRecent(ids: ReadonlyMap<string, number>, now: number, room = RECENT_IDS_KEPT): { keep: Map<string, number>; drop: string[] } {
  const sorted = [...ids].sort((a, b) => b[1] - a[1]);
  const keep = new Map<string, number>();
  const drop: string[] = [];
  for (const [name, at] of sorted) {
    if (keep.size < room && now - at < RECENT_IDS_HORIZON_MS) keep.set(name, at);
    else drop.push(name);
  }
  return { keep, drop };
}

/** What the steward remembers per entry, newest entries kept (a bounded map in insertion order). */
export class EntryIdsCache {
  private readonly entries = new Map<string, EntryIds>();

  constructor(private readonly capacity = 10_000) {}

  get(key: string): EntryIds | undefined {
    return this.entries.get(key);
  }

  set(key: string, ids: EntryIds): void {
    this.entries.delete(key);
    this.entries.set(key, ids);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
