import { RemovalPolicy, aws_dynamodb as dynamodb, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLE_SCHEMAS } from '../src/contract/tables';
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

  /**
   * Lets an agent take, renew and release task locks (conditional UpdateItem), beat and read heartbeats (PutItem,
   * GetItem) and record its runs (PutItem): exactly the calls local mode records agents making.
   */
  grantAgent(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [this.table.tableArn] });
  }

  /** Lets operators' tools read locks and heartbeats. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }
}
