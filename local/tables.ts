import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_SCHEMAS, type TableNames, type TableRole, tableNames } from '../src/contract/tables';

export { type TableNames, tableNames };

/**
 * Creates the Nightshift tables from {@link TABLE_SCHEMAS} (the definitions the CDK constructs deploy) with TTL
 * enabled where the schema has a TTL attribute. Tables that already exist are left as they are.
 */
export async function createTables(client: DynamoDBClient, prefix: string): Promise<TableNames> {
  const names = tableNames(prefix);
  for (const role of Object.keys(TABLE_SCHEMAS) as TableRole[]) {
    const schema = TABLE_SCHEMAS[role];
    const TableName = names[role];
    try {
      await client.send(
        new CreateTableCommand({
          TableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            ...new Set([schema.partitionKey, schema.sortKey, ...(schema.globalIndexes ?? []).flatMap((i) => [i.partitionKey, i.sortKey])]),
          ].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
          KeySchema: [
            { AttributeName: schema.partitionKey, KeyType: 'HASH' },
            { AttributeName: schema.sortKey, KeyType: 'RANGE' },
          ],
          ...(schema.globalIndexes?.length
            ? {
                GlobalSecondaryIndexes: schema.globalIndexes.map((index) => ({
                  IndexName: index.indexName,
                  KeySchema: [
                    { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
                    { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
                  ],
                  Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...index.include] },
                })),
              }
            : {}),
        }),
      );
    } catch (error) {
      if (error instanceof ResourceInUseException) continue;
      throw error;
    }
    if (schema.timeToLiveAttribute) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName,
          TimeToLiveSpecification: { AttributeName: schema.timeToLiveAttribute, Enabled: true },
        }),
      );
    }
  }
  return names;
}
