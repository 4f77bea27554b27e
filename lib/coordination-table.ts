import { RemovalPolicy, aws_dynamodb as dynamodb, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { KEYS, LOCK_PK_PREFIX, TABLE_SCHEMAS } from '../src/contract/tables.ts';
import { tablePropsFromSchema } from './table-props.ts';

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
   * Lets an agent take, renew and release its own task locks (conditional UpdateItem), beat its own heartbeat
   * (PutItem) and record its own runs (PutItem), and read those items and its upstreams' heartbeats (GetItem): every
   * call limited by a `dynamodb:LeadingKeys` condition to the agent's own partitions (`lock#<agent>@…`,
   * `heartbeat#<agent>`, `runs#<agent>`), so no agent can forge another's heartbeat or run, or take its lock.
   */
  grantAgent(grantee: iam.IGrantable, agentId: string, upstream: readonly string[] = []): iam.Grant {
    const own = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [this.table.tableArn] });
    own.principalStatement?.addCondition('ForAllValues:StringLike', {
      'dynamodb:LeadingKeys': [`${LOCK_PK_PREFIX}${agentId}@*`, KEYS.coordination.heartbeat(agentId).pk, KEYS.coordination.runsPartition(agentId)],
    });
    if (upstream.length === 0) return own;
    const beats = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem'], resourceArns: [this.table.tableArn] });
    beats.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': upstream.map((id) => KEYS.coordination.heartbeat(id).pk) });
    return own.combine(beats);
  }

  /** Lets operators' tools read locks and heartbeats. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }
}
