import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app.ts';
import reference from '../../nightshift.config.ts';
import { logicalId, testApp } from '../support/template.ts';

const stack = addNightshiftPipeline(testApp(), { ...reference, monitoring: 'cloudwatch' });
const template = Template.fromStack(stack);
const topic = { Ref: logicalId(stack.breaker.topic) };

describe('PipelineMonitoring', () => {
  it('sends every alarm to the alert topic when it goes off and when it clears', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(10);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
      expect(alarm.Properties.OKActions).toEqual([topic]);
    }
  });

  it('has a dead-man\'s switch per agent: no completed run within its longest gap plus a grace pages, missing data included', () => {
    const deadMen = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'RunsCompleted');
    expect(deadMen.map((a) => a.Properties.Dimensions[0].Value).sort()).toEqual(['analyst', 'community', 'planner', 'seo', 'writer']);
    for (const alarm of deadMen) {
      expect(alarm.Properties).toMatchObject({
        Namespace: 'Nightshift',
        Statistic: 'Sum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        TreatMissingData: 'breaching',
        AlarmActions: [topic],
      });
      expect(alarm.Properties.DatapointsToAlarm).toBe(alarm.Properties.EvaluationPeriods);
    }
    const window = (agentId: string) => {
      const alarm = deadMen.find((a) => a.Properties.Dimensions[0].Value === agentId)!;
      return (alarm.Properties.Period * alarm.Properties.EvaluationPeriods) / 3600;
    };
    // The analyst runs once a day: 24 h plus 15 minutes of grace, in whole hours (a window over a day evaluates
    // hourly periods). The writer every 6 h, with a 15-minute lease, in 5-minute periods.
    expect(window('analyst')).toBe(25);
    expect(window('writer')).toBeCloseTo(6.25, 5);
    // Community's weekday 09:00 New York run never widens its 12-hour gap; the window stays within a day.
    expect(window('community')).toBeLessThanOrEqual(24);
  });

  it('pages when an agent runs degraded because an upstream heartbeat went stale', () => {
    const stale = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'DegradedRuns');
    // Every agent but the planner has an upstream.
    expect(stale.map((a) => a.Properties.Dimensions[0].Value).sort()).toEqual(['analyst', 'community', 'seo', 'writer']);
    for (const alarm of stale) expect(alarm.Properties.TreatMissingData).toBe('notBreaching');
  });

  const named = (suffix: string) => {
    const found = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => String(a.Properties.AlarmName).endsWith(suffix));
    expect(found, suffix).toHaveLength(1);
    return found[0]!.Properties;
  };
  const metricNames = (alarm: { Metrics: { MetricStat?: { Metric: { MetricName: string; Namespace: string } } }[] }) =>
    alarm.Metrics.flatMap((m) => (m.MetricStat ? [`${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`] : []));

  it('pages on a single dead-lettered memory update or Scheduler invocation (cdk-monitoring-constructs)', () => {
    for (const suffix of ['MemoryQueue-DLQ-Queue-Message-Count-Max-Critical', 'ScheduleDeadLetters-Queue-Message-Count-Max-Critical']) {
      const alarm = named(suffix);
      expect(metricNames(alarm)).toEqual(['AWS/SQS/ApproximateNumberOfMessagesVisible']);
      expect(alarm).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, AlarmActions: [topic], OKActions: [topic] });
    }
  });

  it('pages when updates wait more than 15 minutes for the steward', () => {
    const alarm = named('MemoryQueue-Queue-Message-Age-Max-Critical');
    expect(metricNames(alarm)).toEqual(['AWS/SQS/ApproximateAgeOfOldestMessage']);
    expect(alarm.Threshold).toBe(900);
  });

  it('watches the runtime metrics the steward emits', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Nightshift',
      MetricName: 'UpdatesRejected',
      Dimensions: [{ Name: 'service', Value: 'steward' }],
    });
  });

  it('watches every function for faults and throttles, and every table for throttling and errors', () => {
    for (const fn of ['Agent-planner', 'Agent-writer', 'Agent-seo', 'Agent-community', 'Agent-analyst', 'Steward', 'PagerForwarder']) {
      expect(metricNames(named(`${fn}-Fault-Count-Critical`))).toEqual(['AWS/Lambda/Errors']);
      expect(metricNames(named(`${fn}-Throttled-Count-Critical`))).toEqual(['AWS/Lambda/Throttles']);
    }
    for (const table of ['CoordinationTable', 'MemoryTable', 'CounterTable']) {
      named(`${table}-Read-Throttled-Events-Critical`);
      named(`${table}-Write-Throttled-Events-Critical`);
      named(`${table}-SystemError-Count-Critical`);
    }
  });

  it('graphs the model tokens every agent metered, and the calls its budget refused', () => {
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
    for (const metric of ['ModelInputTokens', 'ModelOutputTokens', 'ModelCacheReadTokens', 'ModelCallsRefused', 'ContextTokensLoaded']) expect(body).toContain(metric);
  });

  it("pages when Bedrock counts more tokens on an agent's own inference profile than its budget lets its runtime spend, in an hour or a day", () => {
    const around = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => JSON.stringify(a.Properties.Metrics ?? []).includes('AWS/Bedrock'));
    const agentsWithBudget = reference.agents.filter((a) => a.model && a.tokenBudgetPerDay);
    expect(around).toHaveLength(agentsWithBudget.length * 2);
    for (const agent of agentsWithBudget) {
      const profile = logicalId(stack.agents.find((a) => a.agentId === agent.id)!.modelProfile!);
      const mine = around.filter((a) => JSON.stringify(a.Properties.Metrics).includes(`"${profile}"`));
      // Two days' budgets (the end of one UTC day and the start of the next) and a quarter for the tokenizers.
      expect(mine.map((a) => a.Properties.Threshold)).toEqual([agent.tokenBudgetPerDay! * 2.5, agent.tokenBudgetPerDay! * 2.5]);
      expect(mine.map((a) => a.Properties.Metrics.find((m: { MetricStat?: unknown }) => m.MetricStat).MetricStat.Period).sort()).toEqual([3600, 86400]);
      for (const alarm of mine) {
        const stats = alarm.Properties.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map((m: { MetricStat: { Metric: unknown } }) => m.MetricStat.Metric);
        expect(stats).toEqual(
          ['InputTokenCount', 'OutputTokenCount'].map((MetricName) => ({ Namespace: 'AWS/Bedrock', MetricName, Dimensions: [{ Name: 'ModelId', Value: { 'Fn::GetAtt': [profile, 'InferenceProfileId'] } }] })),
        );
        expect(alarm.Properties.AlarmDescription).toContain(`${agent.id}: Bedrock counted`);
      }
    }
  });

  it('draws a dashboard named after the pipeline', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'nightshift-dev', DashboardBody: Match.anyValue() });
  });
});
