import {
  type CfnElement,
  Duration,
  Stack,
  Validations,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as actions,
  aws_iam as iam,
  aws_scheduler as scheduler,
  aws_scheduler_targets as targets,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { commonVariables, watchVariables } from '../src/contract/environment.ts';
import { KEYS, UNKNOWN_SENDER, rejectionsPartition } from '../src/contract/tables.ts';
import type { WatchSpec } from '../src/config/watch-spec.ts';
import { builtInHandler } from './bundling.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { CoordinationTable } from './coordination-table.ts';
import type { MemoryStore } from './memory-store.ts';
import { NightshiftFunction } from './nightshift-function.ts';
import type { PipelineSchedules } from './pipeline-schedules.ts';

export interface PipelineWatchProps {
  readonly coordination: CoordinationTable;
  readonly memory: MemoryStore;
  readonly breaker: CircuitBreaker;
  readonly schedules: PipelineSchedules;
  /** What to watch: the agents and how long each may be silent. */
  readonly spec: WatchSpec;
  /** Each agent's own dead-letter queue (`Agent.deadLetterQueue`), by agent id: paged per agent. @default - none */
  readonly agentDeadLetterQueues?: Readonly<Record<string, sqs.IQueue>>;
  /** How often the watch runs. @default Duration.minutes(5) */
  readonly every?: Duration;
  /** X-Ray tracing of the functions. @default false */
  readonly tracing?: boolean;
}

/**
 * The pipeline's monitoring for cents a month (`monitoring: 'watch'`): a watch function on its own schedule reads what
 * the pipeline keeps and pages through the alert topic on transitions (see `Watch`), and one CloudWatch alarm, on
 * the free AWS/Lambda metrics, pages when the watch itself stops succeeding. The alarm reaches the topic through a
 * relay function, as CloudWatch cannot publish to a topic under SNS's AWS managed key.
 */
export class PipelineWatch extends Construct {
  readonly function: NightshiftFunction;
  readonly relay: NightshiftFunction;
  /** Successful watch runs fell to none over three periods. */
  readonly silenceAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: PipelineWatchProps) {
    super(scope, id);
    const { coordination, memory, breaker, schedules } = props;
    const every = props.every ?? Duration.minutes(5);
    this.function = new NightshiftFunction(this, 'Function', {
      entry: builtInHandler('watch'),
      timeout: Duration.seconds(60),
      memorySize: 256,
      tracing: props.tracing ?? false,
      // Scheduler invokes it asynchronously; a run that failed every retry is kept with the lost invocations.
      deadLetterQueue: schedules.deadLetterQueue,
      environment: {
        ...watchVariables({
          coordinationTable: coordination.table.tableName,
          memoryTable: memory.table.tableName,
          counterTable: breaker.table.tableName,
          memoryQueueUrl: memory.queue.queueUrl,
          deadLetterQueueUrl: memory.deadLetterQueue.queueUrl,
          scheduleDeadLetterQueueUrl: schedules.deadLetterQueue.queueUrl,
          alertFailureQueueUrls: alertFailureQueues(breaker).map((q) => q.queueUrl),
          agentDeadLetterQueueUrls: Object.fromEntries(Object.entries(props.agentDeadLetterQueues ?? {}).map(([id, queue]) => [id, queue.queueUrl])),
          ...(memory.embedder ? { embedderFailureQueueUrl: memory.embedder.failures.queueUrl } : {}),
          alertTopicArn: breaker.topic.topicArn,
          watchSpec: props.spec,
        }),
        ...commonVariables('watch'),
      },
    });
    this.grantReads(props);
    breaker.grantAlert(this.function);
    Validations.of(Stack.of(this)).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.function.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason: 'aws-scheduler-targets.LambdaInvoke grants invoke on the function and its versions (`:*`); actions are exact',
    });
    new scheduler.Schedule(this, 'Schedule', {
      // Outside the pipeline's group: a halt must never switch off what pages.
      schedule: scheduler.ScheduleExpression.rate(every),
      description: 'Runs the Nightshift watch: incidents opened and resolved, each paged once',
      target: new targets.LambdaInvoke(this.function, { retryAttempts: 0, role: schedules.role }),
    });

    this.relay = new NightshiftFunction(this, 'AlarmRelay', {
      entry: builtInHandler('alarm-relay'),
      timeout: Duration.seconds(30),
      memorySize: 128,
      tracing: props.tracing ?? false,
      deadLetterQueue: breaker.deliveryFailures,
      environment: { ALERT_TOPIC_ARN: breaker.topic.topicArn, ...commonVariables('alarm-relay') },
    });
    breaker.grantAlert(this.relay);
    const invocations = this.function.metricInvocations({ period: every, statistic: 'Sum' });
    const errors = this.function.metricErrors({ period: every, statistic: 'Sum' });
    this.silenceAlarm = new cloudwatch.Alarm(this, 'Silence', {
      alarmName: `${props.spec.label.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+$/, '')}-watch-silent`,
      alarmDescription:
        'The Nightshift watch has not run successfully for 15 minutes: nothing would page. Check its schedule (outside the pipeline group) and its logs.',
      metric: new cloudwatch.MathExpression({ expression: 'FILL(invocations, 0) - FILL(errors, 0)', usingMetrics: { invocations, errors }, period: every }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.silenceAlarm.addAlarmAction(new actions.LambdaAction(this.relay));
    this.silenceAlarm.addOkAction(new actions.LambdaAction(this.relay));
  }

  /** Exactly what the watch reads and writes, each by its keys. */
  private grantReads(props: PipelineWatchProps): void {
    const fn = this.function;
    const statement = (actionsList: string[], resource: string, keys: string[], like = false) =>
      iam.Grant.addToPrincipal({ grantee: fn, actions: actionsList, resourceArns: [resource] }).principalStatement?.addCondition(like ? 'ForAllValues:StringLike' : 'ForAllValues:StringEquals', {
        'dynamodb:LeadingKeys': keys,
      });
    const agents = props.spec.agents.map((a) => a.id);
    statement(['dynamodb:Query'], props.coordination.table.tableArn, agents.map((id) => KEYS.coordination.runsPartition(id)));
    statement(['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], props.coordination.table.tableArn, ['incident#*'], true);
    statement(['dynamodb:GetItem', 'dynamodb:PutItem'], props.coordination.table.tableArn, ['watch#state']);
    statement(['dynamodb:Query'], props.memory.table.tableArn, [...agents, UNKNOWN_SENDER].map(rejectionsPartition));
    statement(['dynamodb:GetItem'], props.memory.table.tableArn, [KEYS.memory.embeddingFailures.pk]);
    statement(['dynamodb:GetItem'], props.breaker.table.tableArn, [KEYS.counters.breaker.pk]);
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['sqs:GetQueueAttributes'],
      resourceArns: [
        props.memory.queue.queueArn,
        props.memory.deadLetterQueue.queueArn,
        props.schedules.deadLetterQueue.queueArn,
        ...Object.values(props.agentDeadLetterQueues ?? {}).map((q) => q.queueArn),
        ...alertFailureQueues(props.breaker).map((q) => q.queueArn),
        ...(props.memory.embedder ? [props.memory.embedder.failures.queueArn] : []),
      ],
    });
  }
}

/** Where alerts that could not be delivered land: the topic's subscriptions' dead letters, the pager forwarder's. */
function alertFailureQueues(breaker: CircuitBreaker) {
  return [breaker.deliveryFailures, ...(breaker.pagerFailures ? [breaker.pagerFailures] : [])];
}
