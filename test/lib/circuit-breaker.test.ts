import { aws_iam as iam } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../lib/circuit-breaker';
import { actionsGranted, logicalId, testStack } from '../support/template';

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
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(breaker.topicKey), 'Arn'] },
    });
  });

  it('subscribes the configured emails and the pager webhook', () => {
    const stack = testStack();
    new CircuitBreaker(stack, 'Breaker', {
      alertEmails: ['a@example.com', 'b@example.com'],
      pagerWebhookUrl: 'https://pager.example/hook',
    });
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'email' }, 2);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'https',
      Endpoint: 'https://pager.example/hook',
    });
  });

  it('refuses a pager webhook that is not HTTPS', () => {
    expect(() => new CircuitBreaker(testStack(), 'Breaker', { pagerWebhookUrl: 'http://pager.example' })).toThrow(
      "CircuitBreaker pagerWebhookUrl must be an https:// URL, got 'http://pager.example'",
    );
  });

  it('grants alert publishing without wildcard key actions', () => {
    const stack = testStack();
    const breaker = new CircuitBreaker(stack, 'Breaker');
    const agent = new iam.Role(stack, 'Agent', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    breaker.grantAlert(agent);
    const template = Template.fromStack(stack);
    expect(actionsGranted(template, logicalId(agent), logicalId(breaker.topic))).toEqual(['sns:Publish']);
    expect(actionsGranted(template, logicalId(agent), logicalId(breaker.topicKey))).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
  });
});
