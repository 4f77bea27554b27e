import { aws_iam as iam } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../lib/circuit-breaker.ts';
import { actionsGranted, logicalId, testStack } from '../support/template.ts';

describe('CircuitBreaker', () => {
  it('counts outputs in a pk/sk table whose TTL attribute clears old windows', () => {
    const stack = testStack();
    new CircuitBreaker(stack, 'Breaker');
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('alerts through an SNS topic encrypted with its own key', () => {
    const stack = testStack();
    const breaker = new CircuitBreaker(stack, 'Breaker');
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(breaker.topicKey!), 'Arn'] },
    });
  });

  it('subscribes the emails, and a forwarder that reads the pager webhook from SSM at run time', () => {
    const stack = testStack();
    const breaker = new CircuitBreaker(stack, 'Breaker', {
      alertEmails: ['a@example.com', 'b@example.com'],
      pagerWebhookParameter: '/nightshift/test/pager-webhook-url',
    });
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'email' }, 2);
    template.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'https' }, 0);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', Endpoint: { 'Fn::GetAtt': [logicalId(breaker.pagerForwarder!), 'Arn'] } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PAGER_WEBHOOK_PARAMETER: '/nightshift/test/pager-webhook-url' }) },
    });
    // The forwarder may read exactly that parameter.
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const ssm = statements.filter((st: { Action: unknown }) => JSON.stringify(st.Action).includes('ssm:'));
    expect(ssm).toHaveLength(1);
    expect(ssm[0].Action).toBe('ssm:GetParameter');
    expect(JSON.stringify(ssm[0].Resource)).toContain(':parameter/nightshift/test/pager-webhook-url');
  });

  it('refuses a pager parameter that is not an SSM parameter name', () => {
    expect(() => new CircuitBreaker(testStack(), 'Breaker', { pagerWebhookParameter: 'https://pager.example' })).toThrow(
      "CircuitBreaker pagerWebhookParameter must be an SSM parameter name starting with '/', got 'https://pager.example'",
    );
  });

  it('grants alert publishing without wildcard key actions', () => {
    const stack = testStack();
    const breaker = new CircuitBreaker(stack, 'Breaker');
    const agent = new iam.Role(stack, 'Agent', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    breaker.grantAlert(agent);
    const template = Template.fromStack(stack);
    expect(actionsGranted(template, logicalId(agent), logicalId(breaker.topic))).toEqual(['sns:Publish']);
    expect(actionsGranted(template, logicalId(agent), logicalId(breaker.topicKey!))).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
  });
});
