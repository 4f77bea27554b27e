import { aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import type { TableSchema } from '../src/contract/tables.ts';

/**
 * Table props every Nightshift table shares, derived from the table's {@link TableSchema} (the same schema the test
 * harness and local mode create tables from): string keys, on-demand billing, point-in-time recovery.
 */
export function tablePropsFromSchema(schema: TableSchema): dynamodb.TableProps {
  return {
    partitionKey: { name: schema.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: schema.sortKey, type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: schema.timeToLiveAttribute,
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  };
}
