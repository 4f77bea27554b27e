import {
  Annotations,
  Duration,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as actions,
  type aws_dynamodb as dynamodb,
  type aws_lambda as lambda,
  type aws_scheduler as scheduler,
  type aws_sns as sns,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { DynamicDashboardFactory, MonitoringFacade, SnsAlarmActionStrategy } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import type { MetricName } from '../src/contract/metrics.ts';
import type { Agent } from './agent.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { MemoryStore } from './memory-store.ts';

export interface PipelineMonitoringProps {
  /** The dashboard's name, and the prefix of every alarm's name. */
  readonly dashboardName: string;
  /** The agents: a dead-man's switch each, stale-upstream alarms, and their runtime metrics on the dashboard. */
  readonly agents: readonly Agent[];
  /** The memory store: steward metrics, queue age and dead letters. */
  readonly memory: MemoryStore;
  /** The breaker: its trips on the dashboard. */
  readonly breaker: CircuitBreaker;
  /** The pipeline's schedule group: invocations that failed or went to the dead-letter queue. */
  readonly scheduleGroup: scheduler.IScheduleGroup;
  /** Where Scheduler sends invocations it gave up on: alarmed when not empty. */
  readonly scheduleDeadLetterQueue: sqs.IQueue;
  /** Where alarms go. @default - the breaker's alert topic (email and pager) */
  readonly alarmTopic?: sns.ITopic;
  /** How long updates may wait before the steward counts as stuck. @default Duration.minutes(15) */
  readonly maxUpdateAge?: Duration;
  /** Functions besides the agents and the steward to watch for faults and throttles, by alarm name. @default - none */
  readonly otherFunctions?: Readonly<Record<string, lambda.IFunction>>;
  /** Tables to watch for throttled requests and system errors, by alarm name. @default - the memory table */
  readonly tables?: Readonly<Record<string, dynamodb.ITable>>;
}

/** How much more than its runtime counted Bedrock may count for an agent (our tokenizer against the model's). */
const MODEL_TOKEN_SLACK = 1.25;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const hours = (ms: number) => (ms % HOUR === 0 ? `${ms / HOUR} h` : `${Math.round(ms / MINUTE)} min`);


/**
 * The pipeline's CloudWatch dashboard and the alarms that page: what the breaker's own alert does not cover. A trip
 * alerts by itself (exactly once); these catch the failures that are quiet: dead-lettered memory updates, a stuck
 * steward, rejected updates, invocations Scheduler gave up on, agents failing.
 */
export class PipelineMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** The alarms Nightshift defines: dead-man's switches, stale upstreams, rejected updates. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The standard Lambda, SQS and DynamoDB alarms, from cdk-monitoring-constructs. */
  readonly standard: MonitoringFacade;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const { agents, memory } = props;
    this.prefix = props.dashboardName;
    const fiveMinutes = { period: Duration.minutes(5) };

    const alarms: cloudwatch.Alarm[] = [
      this.alarm('UpdatesRejected', memory.metricUpdatesRejected(), 1, 'The steward rejected memory updates (reasons and bodies: `nightshift status`, memory table pk=rejected)'),
    ];
    this.standard = this.standardAlarms(props);
    for (const agent of agents) {
      const deadMan = this.deadMan(agent);
      if (deadMan) alarms.push(deadMan);
      if (agent.hasUpstream) alarms.push(this.staleUpstream(agent));
      alarms.push(...this.modelAroundBudget(agent));
    }
    // Notified when an alarm goes off and again when it clears: on state changes only, never repeated.
    for (const alarm of alarms) {
      alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic ?? props.breaker.topic));
      alarm.addOkAction(new actions.SnsAction(props.alarmTopic ?? props.breaker.topic));
    }
    this.alarms = alarms;

    const perAgent = (name: MetricName) => agents.map((agent) => agent.metric(name, { label: agent.agentId }));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName, defaultInterval: Duration.hours(24) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Outputs published (per agent)', left: perAgent('OutputsPublished'), width: 12 }),
      new cloudwatch.GraphWidget({
        title: 'Breaker: trips, refused outputs, suppressed duplicates',
        left: [props.breaker.metricTrips(agents.map((a) => a.agentId), { label: 'trips' }), sumOf(perAgent('OutputsRefused'), 'refused'), sumOf(perAgent('DuplicatesSuppressed'), 'duplicates suppressed')],
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
        left: (['UpdatesApplied', 'UpdatesDuplicate', 'UpdatesRejected', 'UpdatesUnauthorized'] as const).map((name) => memory.metricSteward(name, { label: name })),
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
        left: agents.flatMap((agent) => [
          agent.metric('ModelInputTokens', { label: `${agent.agentId} input` }),
          agent.metric('ModelOutputTokens', { label: `${agent.agentId} output` }),
          agent.metric('ModelCacheReadTokens', { label: `${agent.agentId} cache read` }),
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
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...alarms, ...this.standard.createdAlarms().map((a) => a.alarm)], width: 24 }),
    );
  }

  /**
   * The alarms every serverless stack needs, as cdk-monitoring-constructs defines them, to the alert topic on ALARM
   * and OK: any dead-lettered memory update or Scheduler invocation, memory updates waiting too long, functions
   * failing or throttled, tables throttling or erroring. (Its dashboards are not created: ours draws the pipeline.)
   */
  private standardAlarms(props: PipelineMonitoringProps): MonitoringFacade {
    const { memory } = props;
    const alarmTopic = props.alarmTopic ?? props.breaker.topic;
    const facade = new MonitoringFacade(this, 'Standard', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.dashboardName,
        actionsEnabled: true,
        action: new SnsAlarmActionStrategy({ onAlarmTopic: alarmTopic, onOkTopic: alarmTopic }),
      },
      dashboardFactory: new DynamicDashboardFactory(this, 'NoDashboards', { dashboardNamePrefix: props.dashboardName, dashboardConfigs: [] }),
    });
    facade
      .monitorSqsQueueWithDlq({
        queue: memory.queue,
        deadLetterQueue: memory.deadLetterQueue,
        alarmFriendlyName: 'MemoryQueue',
        addQueueMaxMessageAgeAlarm: { Critical: { maxAgeInSeconds: (props.maxUpdateAge ?? Duration.minutes(15)).toSeconds() } },
        addDeadLetterQueueMaxSizeAlarm: { Critical: { maxMessageCount: 0 } },
      })
      .monitorSqsQueue({
        queue: props.scheduleDeadLetterQueue,
        alarmFriendlyName: 'ScheduleDeadLetters',
        addQueueMaxSizeAlarm: { Critical: { maxMessageCount: 0 } },
      });
    // An alert the pager could not be sent: email still gets it (same topic), and this says the pager did not.
    if (props.breaker.pagerFailures) {
      facade.monitorSqsQueue({ queue: props.breaker.pagerFailures, alarmFriendlyName: 'PagerFailures', addQueueMaxSizeAlarm: { Critical: { maxMessageCount: 0 } } });
    }
    facade.monitorSqsQueue({ queue: props.breaker.deliveryFailures, alarmFriendlyName: 'AlertDeliveryFailures', addQueueMaxSizeAlarm: { Critical: { maxMessageCount: 0 } } });
    const functions: [string, lambda.IFunction][] = [
      ...props.agents.map((a) => [`Agent-${a.agentId}`, a.function] as [string, lambda.IFunction]),
      ['Steward', memory.steward],
      ...Object.entries(props.otherFunctions ?? {}),
    ];
    for (const [name, lambdaFunction] of functions) {
      facade.monitorLambdaFunction({
        lambdaFunction,
        alarmFriendlyName: name,
        addFaultCountAlarm: { Critical: { maxErrorCount: 2 } },
        addThrottlesCountAlarm: { Critical: { maxErrorCount: 0 } },
      });
    }
    for (const [name, table] of Object.entries(props.tables ?? { MemoryTable: memory.table })) {
      facade.monitorDynamoTable({
        table,
        alarmFriendlyName: name,
        addReadThrottledEventsCountAlarm: { Critical: { maxThrottledEventsThreshold: 0 } },
        addWriteThrottledEventsCountAlarm: { Critical: { maxThrottledEventsThreshold: 0 } },
        addSystemErrorCountAlarm: { Critical: { maxErrorCount: 0 } },
      });
    }
    return facade;
  }

  /**
   * The dead-man's switch: no run of the agent completed within its longest scheduled gap plus a grace (its lease,
   * at least 15 minutes). Missing data breaches, so a pipeline that has gone silent — schedules disabled and never
   * restored, a deleted schedule, a role that can no longer invoke, every run failing — pages.
   */
  private deadMan(agent: Agent): cloudwatch.Alarm | undefined {
    const grace = Math.max(15 * MINUTE, agent.lease.toMilliseconds());
    const window = agent.longestGap.toMilliseconds() + grace;
    if (window > 7 * DAY) {
      Annotations.of(this).addWarningV2(
        'nightshift:dead-man-too-long',
        `${agent.agentId} can go ${hours(window)} without a run; CloudWatch evaluates an alarm over at most 7 days, so it has no dead-man's switch`,
      );
      return undefined;
    }
    // CloudWatch evaluates at most a day of periods under an hour, and at most 7 days of longer ones.
    const period = window <= DAY ? Duration.minutes(5) : Duration.hours(1);
    const periods = Math.min(window <= DAY ? DAY / (5 * MINUTE) : (7 * DAY) / HOUR, Math.ceil(window / period.toMilliseconds()));
    return new cloudwatch.Alarm(this, `DeadMan-${agent.agentId}`, {
      alarmName: `${this.prefix}-${agent.agentId}-no-run`,
      metric: agent.metricRunsCompleted({ period }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription:
        `${agent.agentId} has completed no run in ${hours(periods * period.toMilliseconds())} (its longest scheduled gap, ${hours(agent.longestGap.toMilliseconds())}, plus ${hours(grace)}): ` +
        'check `nightshift status` (breaker, heartbeats) and `nightshift schedules` (disabled?), then `nightshift invoke ' +
        `${agent.agentId}\` to run it now`,
    });
  }

  /** The agent ran degraded: an upstream's heartbeat was stale (it died mid-run) or its last run failed. */
  private staleUpstream(agent: Agent): cloudwatch.Alarm {
    return this.alarm(
      `StaleUpstream-${agent.agentId}`,
      agent.metricDegradedRuns(),
      1,
      `${agent.agentId} ran degraded: an upstream agent's heartbeat was stale or its last run failed (\`nightshift status\` shows whose)`,
    );
  }

  /**
   * Model tokens Bedrock counted on the agent's own inference profile, beyond what its budget lets its runtime spend:
   * calls that went around the budget (the agent's code calling Bedrock itself). A metered agent spends at most two
   * UTC days' budgets in any hour or day (the end of one day and the start of the next); the threshold allows a
   * quarter more for the difference between our tokenizer and the model's.
   */
  private modelAroundBudget(agent: Agent): cloudwatch.Alarm[] {
    if (!agent.modelProfile || agent.tokenBudgetPerDay === undefined) return [];
    const threshold = Math.ceil(agent.tokenBudgetPerDay * 2 * MODEL_TOKEN_SLACK);
    return ([['Hour', Duration.hours(1)], ['Day', Duration.days(1)]] as const).map(([span, period]) =>
      this.alarm(
        `${agent.agentId}ModelTokensAroundBudget${span}`,
        agent.metricModelTokens(period),
        threshold,
        `${agent.agentId}: Bedrock counted at least ${threshold} tokens in one ${span.toLowerCase()} on its own inference profile, against a budget of ${agent.tokenBudgetPerDay} a day: its model calls go around the budget`,
      ),
    );
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
