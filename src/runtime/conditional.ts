import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/**
 * A conditional write's outcome as a value: `ok` with what the write returned, or not `ok` with the item as it
 * stood when the condition failed (when the write asked for it with `ReturnValuesOnConditionCheckFailure`). A
 * failed condition is an answer (held, taken, superseded), not an error; every other error still throws.
 */
export type Conditional<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly current: Record<string, unknown> | undefined };

export async function conditionally<T>(write: Promise<T>): Promise<Conditional<T>> {
  try {
    return { ok: true, value: await write };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return { ok: false, current: error.Item ? unmarshall(error.Item) : undefined };
  }
}
