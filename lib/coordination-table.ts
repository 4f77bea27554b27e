import { RemovalPolicy, aws_dynamodb as dynamodb, type aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLE_SCHEMAS } from '../src/config/tables';
import { tablePropsFromSchema } from './table-props';

export interface CoordinationTableProps {
  /**
   * Locks carry fencing tokens that must never go backwards, so the table outlives the stack by default.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Lease locks (with fencing tokens) and agent heartbeats, all written with DynamoDB conditional writes. The TTL
 * attribute only cleans up: expiry is always part of the write condition, because TTL deletes lazily.
 */
export class CoordinationTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: CoordinationTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      ...tablePropsFromSchema(TABLE_SCHEMAS.coordination),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Lets an agent take and renew locks and write heartbeats. */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }

  /** Lets operators' tools read locks and heartbeats. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }
}
