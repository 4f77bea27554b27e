import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { type TableNames, createTables } from '../../local/tables.ts';

export interface TestDynamo {
  readonly client: DynamoDBClient;
  readonly names: TableNames;
}

/** A real AWS SDK client on the run's DynamoDB Local, with this test file's own freshly created tables. */
export async function dynamoForTest(label: string): Promise<TestDynamo> {
  const client = new DynamoDBClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const names = await createTables(client, `${label}-${randomUUID().slice(0, 8)}`);
  return { client, names };
}
