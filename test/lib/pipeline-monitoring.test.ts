import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app';
import reference from '../../nightshift.config';
import { logicalId, testApp } from '../support/template';

const stack = addNightshiftPipeline(testApp(), reference);
const template = Template.fromStack(stack);
const topic = { Ref: logicalId(stack.breaker.topic) };

describe('PipelineMonitoring', () => {
  it('sends every alarm to the alert topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(5);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topic]);
  });

  it('pages on a single dead-lettered memory update', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.memory.deadLetterQueue), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('pages when updates wait more than 15 minutes for the steward', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900 });
  });

  it('watches the runtime metrics the steward emits', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Nightshift',
      MetricName: 'UpdatesRejected',
      Dimensions: [{ Name: 'service', Value: 'steward' }],
    });
  });

  it('sums errors across every agent function', () => {
    const errors = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find((a) =>
      JSON.stringify(a.Properties.Metrics ?? []).includes('Errors'),
    );
    expect(errors?.Properties.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat)).toHaveLength(5);
    expect(errors?.Properties.Threshold).toBe(3);
  });

  it('graphs the model tokens every agent metered, and the calls its budget refused', () => {
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
    for (const metric of ['ModelInputTokens', 'ModelOutputTokens', 'ModelCacheReadTokens', 'ModelCallsRefused', 'ContextTokensLoaded']) expect(body).toContain(metric);
  });

  it('draws a dashboard named after the pipeline', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'nightshift-dev', DashboardBody: Match.anyValue() });
  });
});
