import { KEYS, REJECTED_PK } from '../../contract/tables.ts';
import type { MemoryUpdate } from './update.ts';

/**
 * How memory is laid out in the memory table.
 *
 * - A memory entry: `pk = mem#<namespace>`, `sk = <key>`. Object values keep each field in its own attribute
 *   (`v:<field>`), so a `merge` is one `UpdateItem` that sets fields without reading; lists and scalars live in
 *   `value`. `kind` says which; a `delete` leaves a `deleted` tombstone that keeps the key's ordering state.
 * - `lastSequence` is the SQS FIFO sequence number of the last applied update (zero-padded to 40 digits so that
 *   string order is numeric order: SQS sequence numbers exceed JavaScript's safe integers).
 * - A fence: `pk = fence#<taskId>`, `sk = fence`, the highest fencing token applied for that task.
 * - A rejected update: `pk = rejected`, `sk = <sent time>#<message id>`, with the reason and the original body.
 */

export type EntryKind = 'object' | 'list' | 'scalar' | 'deleted';

export const FIELD_PREFIX = 'v:';

export const { entry: entryKey, fence: fenceKey, rejection: rejectionKey } = KEYS.memory;
export { REJECTED_PK };

/** Pads an SQS sequence number so DynamoDB's string comparison orders it numerically. */
export function padSequence(sequenceNumber: string): string {
  if (!/^\d{1,40}$/.test(sequenceNumber)) throw new RangeError(`not an SQS sequence number: '${sequenceNumber}'`);
  return sequenceNumber.padStart(40, '0');
}

export function unpadSequence(padded: string): string {
  return padded.replace(/^0+(?=\d)/, '');
}

export function kindOf(value: unknown): Exclude<EntryKind, 'deleted'> {
  if (Array.isArray(value)) return 'list';
  if (value !== null && typeof value === 'object') return 'object';
  return 'scalar';
}

/** The attributes holding a `put` value. */
export function valueAttributes(value: unknown): Record<string, unknown> {
  if (kindOf(value) !== 'object') return { value };
  return Object.fromEntries(Object.entries(value as object).map(([field, v]) => [`${FIELD_PREFIX}${field}`, v]));
}

/** The value stored on an entry item, or undefined for a tombstone. */
export function valueOf(item: Record<string, unknown>): unknown {
  switch (item.kind as EntryKind) {
    case 'deleted':
      return undefined;
    case 'object':
      return Object.fromEntries(
        Object.entries(item)
          .filter(([name]) => name.startsWith(FIELD_PREFIX))
          .map(([name, v]) => [name.slice(FIELD_PREFIX.length), v]),
      );
    default:
      return item.value;
  }
}

/** What every applied update records about itself on the entry. */
export function provenance(update: MemoryUpdate, sequence: string, appliedAt: number) {
  return {
    lastSequence: sequence,
    updatedAt: appliedAt,
    updatedBy: update.agentId,
    runId: update.runId,
    idempotencyId: update.idempotencyId,
  };
}
