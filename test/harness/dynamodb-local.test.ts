import {
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMAS, type TableRole } from '../../src/contract/tables.ts';
import { createTables } from '../../local/tables.ts';
import { dynamoForTest } from '../support/dynamo.ts';

const { client, names } = await dynamoForTest('harness');

describe('test harness on DynamoDB Local', () => {
  it.each(Object.keys(TABLE_SCHEMAS) as TableRole[])('creates the %s table from the schema the stack deploys', async (role) => {
    const schema = TABLE_SCHEMAS[role];
    const { Table } = await client.send(new DescribeTableCommand({ TableName: names[role] }));
    expect(Table?.KeySchema).toEqual([
      { AttributeName: schema.partitionKey, KeyType: 'HASH' },
      { AttributeName: schema.sortKey, KeyType: 'RANGE' },
    ]);
  });

  it('gives each test file its own tables', () => {
    expect(names.coordination).toMatch(/^harness-[0-9a-f]{8}-coordination$/);
  });

  it('leaves existing tables alone when asked to create them again', async () => {
    await client.send(new PutItemCommand({ TableName: names.memory, Item: { pk: { S: 'keep' }, sk: { S: 'me' } } }));
    await createTables(client, names.memory.replace(/-memory$/, ''));
    const { Item } = await client.send(new GetItemCommand({ TableName: names.memory, Key: { pk: { S: 'keep' }, sk: { S: 'me' } } }));
    expect(Item).toBeDefined();
  });

  it('returns the current item on a failed condition (ReturnValuesOnConditionCheckFailure)', async () => {
    const item = { pk: { S: 'lock#t1' }, sk: { S: 'lock' }, owner: { S: 'a' } };
    await client.send(new PutItemCommand({ TableName: names.coordination, Item: item }));
    const attempt = client.send(
      new PutItemCommand({
        TableName: names.coordination,
        Item: { ...item, owner: { S: 'b' } },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    await expect(attempt).rejects.toMatchObject({ name: 'ConditionalCheckFailedException', Item: item });
  });

  it('supports TransactWriteItems, which the steward relies on', async () => {
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: names.memory, Item: { pk: { S: 'ns#k' }, sk: { S: 'value' } } } },
          { Put: { TableName: names.memory, Item: { pk: { S: 'fence#t' }, sk: { S: 'fence' } } } },
        ],
      }),
    );
    const fence = await client.send(new GetItemCommand({ TableName: names.memory, Key: { pk: { S: 'fence#t' }, sk: { S: 'fence' } } }));
    expect(fence.Item).toBeDefined();
  });
});
