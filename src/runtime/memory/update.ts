import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { describeIssues } from '../schema.ts';
import { NAMESPACE, NAMESPACE_RULE } from '../../config/namespaces.ts';
import { NightshiftError } from '../../errors.ts';

/**
 * A memory update: what an agent submits to the steward's FIFO queue. Agents never write memory themselves.
 *
 * Ordering: the SQS message group is the memory key (`namespace/key`), so updates to one key are applied in the
 * order they were sent, while updates to different keys are applied in parallel. (One group per agent would
 * serialise unrelated keys and still let two agents race on one key; one group per namespace is the coarser
 * middle ground, but a hot namespace would then queue behind itself.)
 */

/** SQS's message size limit: 256 KiB. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.:\/-]{0,254}$/;
// SQS deduplication ids: up to 128 characters, alphanumerics and punctuation.
const IDEMPOTENCY_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/** DynamoDB's limits on what a value may hold: nesting depth and the range of its numbers. */
export const MAX_VALUE_DEPTH = 31;
const DYNAMODB_MAX_NUMBER = 9.9999999999999999999999999999999999999e125;
const DYNAMODB_MIN_NUMBER = 1e-130;

/**
 * What in a JSON value DynamoDB or this runtime cannot hold exactly, by path: nesting past DynamoDB's limit, an
 * integer JSON cannot carry exactly (past 2^53) or a number outside DynamoDB's range, and a `__proto__` key, which
 * JavaScript would turn into the object's prototype instead of storing. At most five.
 */
export function valueProblems(value: unknown, path = 'value'): string[] {
  const problems: string[] = [];
  const visit = (v: unknown, at: string, depth: number): void => {
    if (problems.length >= 5) return;
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
      const what = v === undefined ? 'undefined' : `a ${typeof v}`;
      // A field can be left out; an item of a list, or the whole value, can only be null or gone.
      const fix = at.endsWith(']') ? 'use null, or remove the item' : at === path ? 'use null, or delete the entry' : 'leave the field out, or set it to null';
      problems.push(`${at} is ${what}, which JSON cannot carry: ${fix}`);
      return;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        problems.push(`${at} is ${v}, which JSON cannot carry: send a finite number, null or a string`);
        return;
      }
      if (Math.abs(v) > DYNAMODB_MAX_NUMBER || (v !== 0 && Math.abs(v) < DYNAMODB_MIN_NUMBER)) problems.push(`${at}: ${v} is outside the numbers DynamoDB stores (1e-130 to 9.99e125)`);
      else if (Number.isInteger(v) && !Number.isSafeInteger(v)) problems.push(`${at}: ${v} is an integer past 2^53 that cannot be kept exactly; send it as a string`);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (depth > MAX_VALUE_DEPTH) {
      problems.push(`${at}: nests deeper than ${MAX_VALUE_DEPTH} levels, which DynamoDB cannot store`);
      return;
    }
    if (Array.isArray(v)) v.forEach((item, i) => visit(item, `${at}[${i}]`, depth + 1));
    else {
      for (const key of Object.keys(v)) {
        if (key === '__proto__') problems.push(`${at}: the key '__proto__' cannot be stored (JavaScript makes it the object's prototype); rename it`);
        else visit((v as Record<string, unknown>)[key], `${at}.${key}`, depth + 1);
      }
    }
  };
  visit(value, path, 1);
  return problems;
}

const json: z.ZodMiniType<unknown> = z.json();
const text = (min: number, max: number) => z.string().check(z.minLength(min), z.maxLength(max));

const base = {
  /** Becomes the SQS deduplication id: the same id within 5 minutes is dropped by SQS, later by the steward. */
  idempotencyId: z.string().check(z.regex(IDEMPOTENCY_ID, 'must be 1-128 letters, digits or punctuation')),
  agentId: text(1, 64),
  runId: text(1, 128),
  /** The lock the writer held, if any: its task id and fencing token. */
  taskId: z.optional(text(1, 512)),
  fencingToken: z.optional(z.int().check(z.positive())),
  namespace: z.string().check(z.regex(NAMESPACE, NAMESPACE_RULE)),
  key: z.string().check(z.regex(KEY, 'must be 1-255 letters, digits or _.:/- , starting with a letter or digit')),
};

/**
 * How retrieval treats the entry: `tags` are searched with its key and text; a `pinned` entry (a house rule) is
 * always put in an agent's context first, within its budget. A `put` without them clears them; a `merge` or
 * `append` without them keeps what the entry had.
 */
const retrieval = {
  tags: z.optional(z.array(text(1, 64)).check(z.maxLength(20))),
  pinned: z.optional(z.boolean()),
};

export const memoryUpdateSchema = z
  .discriminatedUnion('op', [
    /** Replaces the value. */
    z.strictObject({ ...base, ...retrieval, op: z.literal('put'), value: json }),
    /** Sets the given fields of an object value, creating the object if the key is empty. */
    z.strictObject({ ...base, ...retrieval, op: z.literal('merge'), value: z.record(text(1, 255), json) }),
    /** Appends the items to a list value, creating the list if the key is empty. */
    z.strictObject({ ...base, ...retrieval, op: z.literal('append'), value: z.array(json).check(z.minLength(1)) }),
    /** Removes the value (a tombstone keeps the key's ordering state). */
    z.strictObject({ ...base, op: z.literal('delete') }),
  ])
  .check(
    z.refine((u) => (u.taskId === undefined) === (u.fencingToken === undefined), {
      message: 'taskId and fencingToken go together',
      path: ['fencingToken'],
    }),
  );

export type MemoryUpdate = z.output<typeof memoryUpdateSchema>;

/** An update that can never be applied; says which field and why. */
export class InvalidUpdateError extends NightshiftError {
  override readonly name = 'InvalidUpdateError';
}

/** `namespace/key` of an update as it came, when both are strings (for the error), or nothing. */
function entryOf(input: unknown): string | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  const { namespace, key } = input as { namespace?: unknown; key?: unknown };
  return typeof namespace === 'string' && typeof key === 'string' ? `${namespace.slice(0, 63)}/${key.slice(0, 255)}` : undefined;
}

/** Validates an update; throws {@link InvalidUpdateError} naming each bad field. */
export function parseUpdate(input: unknown): MemoryUpdate {
  // Checked on the input as it came, before parsing rebuilds it (and would drop a `__proto__` key on the way).
  const value = input !== null && typeof input === 'object' && 'value' in input ? (input as { value: unknown }).value : undefined;
  const hasValue = input !== null && typeof input === 'object' && 'value' in input && (input as { op?: unknown }).op !== 'delete';
  const problems = hasValue ? valueProblems(value) : [];
  const result = memoryUpdateSchema.safeParse(input);
  if (!result.success || problems.length > 0) {
    // What the value check names (the path and why) replaces the schema's terser word on the same value.
    const issues = result.success ? [] : result.error.issues.filter((i) => problems.length === 0 || i.path[0] !== 'value');
    const where = entryOf(input);
    const described = issues.length ? [describeIssues({ issues }, '(update)')] : [];
    throw new InvalidUpdateError(`${where ? `memory update of ${where}: ` : ''}${[...described, ...problems].join('; ')}`);
  }
  return result.data;
}

/** The message body; throws {@link InvalidUpdateError} if it exceeds SQS's 256 KiB. */
export function encodeUpdate(update: MemoryUpdate): string {
  const body = JSON.stringify(update);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new InvalidUpdateError(
      `update ${update.idempotencyId} to ${update.namespace}/${update.key} is ${bytes} bytes; SQS takes at most ${MAX_MESSAGE_BYTES}`,
    );
  }
  return body;
}

/** The SQS message group of a memory key (hashed when `namespace/key` exceeds the 128-character limit). */
export function messageGroupId(namespace: string, key: string): string {
  const id = `${namespace}/${key}`;
  return id.length <= 128 ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}
