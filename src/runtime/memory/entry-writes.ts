import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { TokenCounter } from '../tokens.ts';
import { contextAttributes } from './context-index.ts';
import { FIELD_PREFIX, entryKey, fenceKey, kindOf, provenance, valueAttributes } from './items.ts';
import { type EntryIds, RECENT_IDS_HORIZON_MS, RECENT_IDS_KEPT, idAttribute, keepRecent } from './recent-ids.ts';
import type { MemoryUpdate } from './update.ts';

/** The steward's writes of one update: the entry's, and the fence's for an update made under a lock. */

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
export type Write = { readonly Put: NonNullable<TransactItem['Put']> } | { readonly Update: NonNullable<TransactItem['Update']> };

/**
 * The entry write for an update: ordered by sequence, and recording the update's idempotency id, conditional on
 * its not being there yet (exactly one effect per id, see `recent-ids.ts`). A put or delete replaces the item, so
 * it carries the recent ids `known` and is conditional on the entry being as known.
 */
export function entryWrite(TableName: string, update: MemoryUpdate, sequence: string, countTokens: TokenCounter, known: EntryIds | undefined, now: number): Write {
  const Key = entryKey(update.namespace, update.key);
  const stamp = provenance(update, sequence, now);
  // The id must not be there, or be older than the horizon (an expired id not yet cleaned up is not a duplicate).
  const ordered = '(attribute_not_exists(lastSequence) OR lastSequence < :seq) AND (attribute_not_exists(#id) OR #id < :horizon)';
  const base = { TableName, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
  const id = idAttribute(update.idempotencyId);
  const { keep, drop } = keepRecent(known?.ids ?? new Map(), now, RECENT_IDS_KEPT - 1);

  if (update.op === 'put' || update.op === 'delete') {
    const value =
      update.op === 'put'
        ? {
            kind: kindOf(update.value),
            ...valueAttributes(update.value),
            tags: update.tags ?? [],
            pinned: update.pinned ?? false,
            ...contextAttributes(update.namespace, update.key, update.value, sequence, countTokens),
          }
        : { kind: 'deleted' };
    const asKnown = known?.lastSequence === undefined ? 'attribute_not_exists(lastSequence)' : 'lastSequence = :known';
    return {
      Put: {
        ...base,
        Item: { ...Key, ...value, ...stamp, ...Object.fromEntries(keep), [id]: now },
        ConditionExpression: `${ordered} AND ${asKnown}`,
        ExpressionAttributeNames: { '#id': id },
        ExpressionAttributeValues: { ':seq': sequence, ':horizon': now - RECENT_IDS_HORIZON_MS, ...(known?.lastSequence === undefined ? {} : { ':known': known.lastSequence }) },
      },
    };
  }
  const names: Record<string, string> = { '#id': id };
  const values: Record<string, unknown> = { ':seq': sequence, ':now': now, ':horizon': now - RECENT_IDS_HORIZON_MS };
  const removes = drop.filter((name) => name !== id).slice(0, 32).map((name, i) => {
    names[`#drop${i}`] = name;
    return `#drop${i}`;
  });
  const sets = Object.entries(stamp).map(([attribute, value]) => {
    names[`#${attribute}`] = attribute;
    values[`:${attribute}`] = value;
    return `#${attribute} = :${attribute}`;
  });
  names['#kind'] = 'kind';
  for (const attribute of ['tags', 'pinned'] as const) {
    if (update[attribute] === undefined) continue;
    names[`#${attribute}`] = attribute;
    values[`:${attribute}`] = update[attribute];
    sets.push(`#${attribute} = :${attribute}`);
  }
  if (update.op === 'merge') {
    Object.entries(update.value).forEach(([field, value], i) => {
      names[`#f${i}`] = `${FIELD_PREFIX}${field}`;
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    });
    values[':kind'] = 'object';
  } else {
    names['#value'] = 'value';
    values[':items'] = update.value;
    values[':empty'] = [];
    values[':kind'] = 'list';
    sets.push('#value = list_append(if_not_exists(#value, :empty), :items)');
  }
  values[':deleted'] = 'deleted';
  return {
    Update: {
      ...base,
      Key,
      UpdateExpression: `SET #kind = :kind, #id = :now, ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      // A merge needs an object (or nothing) there, an append a list: anything else can never apply.
      ConditionExpression: `${ordered} AND (attribute_not_exists(#kind) OR #kind IN (:kind, :deleted))`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

export function fenceWrite(TableName: string, taskId: string, fencingToken: number, now: number): Write {
  return {
    Update: {
      TableName,
      Key: fenceKey(taskId),
      UpdateExpression: 'SET highestToken = :token, updatedAt = :now',
      ConditionExpression: 'attribute_not_exists(highestToken) OR highestToken <= :token',
      ExpressionAttributeValues: { ':token': fencingToken, ':now': now },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}
