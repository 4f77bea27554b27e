import { RemovalPolicy, aws_iam as iam } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CoordinationTable } from '../../lib/coordination-table.ts';
import { actionsGranted, logicalId, testStack } from '../support/template.ts';

describe('CoordinationTable', () => {
  it('is an on-demand pk/sk table with a TTL attribute for clean-up', () => {
    // GIVEN
    const stack = testStack();
    // WHEN
    new CoordinationTable(stack, 'Coordination');
    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });

  it('is retained by default, so fencing tokens never restart from zero', () => {
    const stack = testStack();
    new CoordinationTable(stack, 'Coordination');
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });

  it('honours an explicit removal policy', () => {
    const stack = testStack();
    new CoordinationTable(stack, 'Coordination', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('grants agents exactly the lock, heartbeat and run-history calls, and operators reads', () => {
    const stack = testStack();
    const coordination = new CoordinationTable(stack, 'Coordination');
    const agent = new iam.Role(stack, 'Agent', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    coordination.grantAgent(agent, 'writer', ['planner']);
    coordination.grantRead(operator);
    const template = Template.fromStack(stack);
    const table = logicalId(coordination.table);
    expect(actionsGranted(template, logicalId(agent), table)).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    const operatorActions = actionsGranted(template, logicalId(operator), table);
    expect(operatorActions).toContain('dynamodb:GetItem');
    expect(operatorActions).not.toContain('dynamodb:PutItem');
  });
});
