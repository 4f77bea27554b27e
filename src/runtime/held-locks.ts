import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LOCK_PK_PREFIX } from '../contract/tables.ts';
import type { TaskLocksOptions } from './locks.ts';

/**
 * Locks held now (unexpired, not released), for operators (`nightshift status`): a Scan of the coordination table,
 * kept apart from `TaskLocks` so an agent's bundle does not carry it.
 */
export async function heldLocks(options: TaskLocksOptions): Promise<{ taskId: string; owner: string; fencingToken: number; leaseExpiresAt: number }[]> {
  const now = options.clock.now();
  const held: { taskId: string; owner: string; fencingToken: number; leaseExpiresAt: number }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await options.client.send(
      new ScanCommand({
        TableName: options.tableName,
        FilterExpression: 'begins_with(pk, :lock) AND attribute_exists(#owner) AND leaseExpiresAt > :now',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':lock': LOCK_PK_PREFIX, ':now': now },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      held.push({
        taskId: String(item.pk).slice(LOCK_PK_PREFIX.length),
        owner: item.owner,
        fencingToken: item.fencingToken,
        leaseExpiresAt: item.leaseExpiresAt,
      });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return held;
}
