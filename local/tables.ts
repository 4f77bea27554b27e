import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { TABLE_SCHEMAS, type TableNames, type TableRole, tableNames } from '../src/contract/tables.ts';

export { type TableNames, tableNames };

/**
 * Creates the Nightshift tables from {@link TABLE_SCHEMAS} (the definitions the CDK constructs deploy). Tables that
 * already exist are left as they are.
 *
 * DynamoDB Local's own TTL is never enabled: it deletes by the machine's real clock, while local mode, the tests,
 * the bench and chaos run on simulated clocks, so it would delete live locks and heartbeats whenever the real date
 * is past a simulated expiry (and never delete anything when it is behind). Local mode expires items on its
 * simulated clock instead ({@link SimulatedTtl}).
 */
export async function createTables(client: DynamoDBClient, prefix: string): Promise<TableNames> {
  const names = tableNames(prefix);
  for (const role of Object.keys(TABLE_SCHEMAS) as TableRole[]) {
    const schema = TABLE_SCHEMAS[role];
    try {
      await client.send(
        new CreateTableCommand({
          TableName: names[role],
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
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  return names;
}
