import {
  Duration,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as actions,
  type aws_scheduler as scheduler,
  type aws_sns as sns,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { Agent } from './agent';
import type { MemoryStore } from './memory-store';

export interface PipelineMonitoringProps {
  readonly dashboardName: string;
  readonly agents: readonly Agent[];
  readonly memory: MemoryStore;
  readonly scheduleGroup: scheduler.IScheduleGroup;
  readonly scheduleDeadLetterQueue: sqs.IQueue;
  /** Where alarms go: the pipeline's alert topic (email and pager). */
  readonly alarmTopic: sns.ITopic;
  /** How long updates may wait before the steward counts as stuck. @default Duration.minutes(15) */
  readonly maxUpdateAge?: Duration;
}

/** Namespace of the metrics the runtime emits through Powertools (EMF), dimension `service` = agent id or `steward`. */
const NAMESPACE = 'Nightshift';

/**
 * The pipeline's CloudWatch dashboard and the alarms that page: what the breaker's own alert does not cover. A trip
 * alerts by itself (exactly once); these catch the failures that are quiet: dead-lettered memory updates, a stuck
 * steward, rejected updates, invocations Scheduler gave up on, agents failing.
 */
export class PipelineMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const { agents, memory } = props;
    const agentIds = agents.map((a) => a.agentId);
    const fiveMinutes = { period: Duration.minutes(5) };

    const alarms = [
      this.alarm('MemoryDeadLetters', memory.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...fiveMinutes, statistic: 'Maximum' }), 1, 'Memory updates failed maxReceiveCount times and are in the DLQ: fix the cause, then `nightshift dlq redrive`'),
      this.alarm('StewardStuck', memory.queue.metricApproximateAgeOfOldestMessage({ ...fiveMinutes, statistic: 'Maximum' }), (props.maxUpdateAge ?? Duration.minutes(15)).toSeconds(), 'Memory updates are waiting too long: the steward is failing or throttled'),
      this.alarm('UpdatesRejected', runtimeMetric('UpdatesRejected', 'steward'), 1, 'The steward rejected memory updates (reasons and bodies: `nightshift status`, memory table pk=rejected)'),
      this.alarm('InvocationsDeadLettered', props.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...fiveMinutes, statistic: 'Maximum' }), 1, 'EventBridge Scheduler gave up invoking an agent'),
      this.alarm('AgentErrors', sumOf(agents.map((a) => a.function.metricErrors(fiveMinutes)), 'Agent errors'), 3, 'Agents are failing (3 or more errors in 5 minutes)'),
    ];
    for (const alarm of alarms) alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
    this.alarms = alarms;

    const perAgent = (name: string) => agentIds.map((agentId) => runtimeMetric(name, agentId, agentId));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName, defaultInterval: Duration.hours(24) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Outputs published (per agent)', left: perAgent('OutputsPublished'), width: 12 }),
      new cloudwatch.GraphWidget({
        title: 'Breaker: trips, refused outputs, suppressed duplicates',
        left: [sumOf(perAgent('BreakerTrips'), 'trips'), sumOf(perAgent('OutputsRefused'), 'refused'), sumOf(perAgent('DuplicatesSuppressed'), 'duplicates suppressed')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Runs completed (per agent)', left: perAgent('RunsCompleted'), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Degraded runs (per agent)', left: perAgent('DegradedRuns'), width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Runs failed, halted, skipped; lock takeovers',
        left: [sumOf(perAgent('RunsFailed'), 'failed'), sumOf(perAgent('RunsHalted'), 'halted'), sumOf(perAgent('DuplicateRunsSkipped'), 'duplicate slots skipped'), sumOf(perAgent('LockTakeovers'), 'lock takeovers')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Memory steward: applied, duplicates, rejected (unauthorized: wrong namespace, impersonation, unknown sender)',
        left: ['UpdatesApplied', 'UpdatesDuplicate', 'UpdatesRejected', 'UpdatesUnauthorized'].map((name) => runtimeMetric(name, 'steward', name)),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Memory queue depth and DLQ',
        left: [memory.queue.metricApproximateNumberOfMessagesVisible(fiveMinutes), memory.deadLetterQueue.metricApproximateNumberOfMessagesVisible(fiveMinutes)],
        right: [memory.queue.metricApproximateAgeOfOldestMessage(fiveMinutes)],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Scheduler: target errors and dead-lettered invocations',
        left: [props.scheduleGroup.metricTargetErrors(fiveMinutes), props.scheduleGroup.metricSentToDLQ(fiveMinutes)],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Model tokens (as Bedrock reported them, per agent)',
        left: agentIds.flatMap((agentId) => [
          runtimeMetric('ModelInputTokens', agentId, `${agentId} input`),
          runtimeMetric('ModelOutputTokens', agentId, `${agentId} output`),
          runtimeMetric('ModelCacheReadTokens', agentId, `${agentId} cache read`),
        ]),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Model calls, calls refused by the budget, failed calls; context tokens retrieved',
        left: [sumOf(perAgent('ModelCalls'), 'calls'), sumOf(perAgent('ModelCallsRefused'), 'refused by budget'), sumOf(perAgent('ModelCallsFailed'), 'failed')],
        right: [sumOf(perAgent('ContextTokensLoaded'), 'context tokens retrieved')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 }));
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
  }
}

function runtimeMetric(name: string, service: string, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: NAMESPACE,
    metricName: name,
    dimensionsMap: { service },
    statistic: 'Sum',
    period: Duration.minutes(5),
    ...(label ? { label } : {}),
  });
}

function sumOf(metrics: readonly cloudwatch.IMetric[], label: string): cloudwatch.MathExpression {
  // Ids must be unique within a graph that shows several sums: derive them from the label.
  const prefix = label.toLowerCase().replace(/[^a-z0-9]/g, '_');
  const usingMetrics = Object.fromEntries(metrics.map((m, i) => [`${prefix}_${i}`, m]));
  return new cloudwatch.MathExpression({
    expression: metrics.length ? Object.keys(usingMetrics).join(' + ') : '0',
    usingMetrics,
    label,
    period: Duration.minutes(5),
  });
}
