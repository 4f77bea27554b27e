import { type AttributeValue, GetItemCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod/mini';
import { NightshiftError } from '../errors.ts';

/**
 * Items an agent's role may write (its heartbeat, its run records) are read as hostile input. They are fetched as
 * raw attribute values and unmarshalled with numbers wrapped, so a number outside JavaScript's range cannot make the
 * read throw. Then each is parsed field by field with bounds: a bad item is reported by what is wrong with it, and
 * never stops the reading of anyone else's.
 */

/** An agent-written item that does not parse: names the item and the field. */
export class UnreadableItemError extends NightshiftError {
  override name = 'UnreadableItemError';
}

/** One item by key, strongly consistent, numbers wrapped (`{ value: '1e400' }`), or undefined. */
export async function getAgentItem(client: DynamoDBDocumentClient, tableName: string, key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: marshall(key), ConsistentRead: true }));
  return Item ? unmarshall(Item, { wrapNumbers: true }) : undefined;
}

/** One page of a Query (the caller's key condition and limit), numbers wrapped. */
export async function queryAgentItems(client: DynamoDBDocumentClient, input: Omit<QueryCommandInput, 'ExpressionAttributeValues'> & { values: Record<string, string> }): Promise<Record<string, unknown>[]> {
  const { values, ...rest } = input;
  const { Items = [] } = await client.send(new QueryCommand({ ...rest, ExpressionAttributeValues: marshall(values) as Record<string, AttributeValue> }));
  return Items.map((item) => unmarshall(item, { wrapNumbers: true }));
}

/** A stored number (wrapped or plain) as a safe integer within [min, max]. */
export function storedInt(min: number, max: number) {
  return z.pipe(
    z.union([z.number(), z.object({ value: z.string() })]),
    z.pipe(
      z.transform((stored: number | { value: string }) => (typeof stored === 'number' ? stored : Number(stored.value))),
      z.int().check(z.gte(min), z.lte(max)),
    ),
  );
}

/** A stored string cut to `max` characters: a reader's bound on what it quotes. */
export function storedText(max: number) {
  return z.pipe(
    z.string(),
    z.transform((text: string) => (text.length > max ? `${text.slice(0, max)}…` : text)),
  );
}

/** An ISO time that parses and lies between `notBefore` and `notAfter` (epoch ms), kept as its ISO string. */
export function storedTime(notBefore: () => number, notAfter: () => number) {
  return z.string().check(
    z.refine((text: string) => {
      const at = Date.parse(text);
      return Number.isFinite(at) && at >= notBefore() && at <= notAfter();
    }, 'is not a time within the clock skew allowed'),
  );
}

/** Parses one agent-written item, or throws {@link UnreadableItemError} naming what and which field. */
export function parseAgentItem<T>(schema: z.ZodMiniType<T>, item: unknown, what: string): T {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : '(item)';
  throw new UnreadableItemError(`${what} is unreadable: ${field} ${issue?.message ?? 'is invalid'}`);
}
