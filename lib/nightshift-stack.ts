import {
  type CfnElement,
  CfnOutput,
  Duration,
  Stack,
  type StackProps,
  Validations,
  aws_iam as iam,
  aws_scheduler as scheduler,
  aws_scheduler_targets as targets,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { breakerSpec } from '../src/config/agent-spec';
import type { PipelineConfig } from '../src/config/pipeline';
import { Agent } from './agent';
import { CircuitBreaker } from './circuit-breaker';
import { CoordinationTable } from './coordination-table';
import { MemoryStore } from './memory-store';
import { NightshiftFunction } from './nightshift-function';
import { PipelineMonitoring } from './pipeline-monitoring';

export interface NightshiftStackProps extends StackProps {
  /** The validated pipeline config (see `definePipeline`). */
  readonly pipeline: PipelineConfig;
  /**
   * Where `ctx.model` calls go. `offline` answers without a model (for stacks emulated without Bedrock, such as
   * LocalStack's). @default 'bedrock'
   */
  readonly modelProvider?: 'bedrock' | 'offline';
}

/** The whole pipeline: coordination, memory steward, circuit breaker, and one scheduled function per agent. */
export class NightshiftStack extends Stack {
  readonly coordination: CoordinationTable;
  readonly memory: MemoryStore;
  readonly breaker: CircuitBreaker;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** Invocations EventBridge Scheduler could not deliver after its retries. */
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly agents: readonly Agent[];
  private readonly scheduleNames: readonly string[];
  private readonly scheduleGroupName: string;
  /** The role every schedule invokes its agent with. */
  readonly scheduleRole: iam.Role;
  /** Moves a cooled-down breaker to HALF_OPEN; only when the config sets `breaker.coolDownMinutes`. */
  readonly breakerWatchdog?: NightshiftFunction;
  /** Dashboard and alarms (to the alert topic). */
  readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: NightshiftStackProps) {
    super(scope, id, props);
    const { pipeline } = props;

    this.coordination = new CoordinationTable(this, 'Coordination');
    this.breaker = new CircuitBreaker(this, 'Breaker', {
      alertEmails: pipeline.alerts.emails,
      tracing: pipeline.tracing,
      ...(pipeline.alerts.pagerWebhookParameter ? { pagerWebhookParameter: pipeline.alerts.pagerWebhookParameter } : {}),
    });
    const shared = { NIGHTSHIFT_PIPELINE: pipeline.name, NIGHTSHIFT_STAGE: pipeline.stage };
    this.memory = new MemoryStore(this, 'Memory', {
      batchSize: pipeline.steward.batchSize,
      maxReceiveCount: pipeline.steward.maxReceiveCount,
      stewardTimeout: Duration.seconds(pipeline.steward.timeoutSeconds),
      environment: shared,
      tracing: pipeline.tracing,
    });
    this.scheduleGroupName = `${pipeline.name}-${pipeline.stage}`;
    this.scheduleNames = breakerSpec(pipeline).scheduleNames;
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', { scheduleGroupName: this.scheduleGroupName });
    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules',
    });

    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler invokes the agents with this role',
    });

    const breakerEnvironment = {
      ...shared,
      COUNTER_TABLE: this.breaker.table.tableName,
      ALERT_TOPIC_ARN: this.breaker.topic.topicArn,
      SCHEDULE_GROUP: this.scheduleGroup.scheduleGroupName,
      NIGHTSHIFT_BREAKER_SPEC: JSON.stringify(breakerSpec(pipeline)),
      POWERTOOLS_METRICS_NAMESPACE: 'Nightshift',
    };
    const environment = {
      ...breakerEnvironment,
      COORDINATION_TABLE: this.coordination.table.tableName,
      MEMORY_TABLE: this.memory.table.tableName,
      MEMORY_QUEUE_URL: this.memory.queue.queueUrl,
    };
    this.agents = pipeline.agents.map((config) => {
      const agent = new Agent(this, `Agent-${config.id}`, {
        pipeline,
        agentId: config.id,
        scheduleGroup: this.scheduleGroup,
        scheduleDeadLetterQueue: this.scheduleDeadLetterQueue,
        scheduleRole: this.scheduleRole,
        environment: { ...environment, ...(props.modelProvider === 'offline' ? { NIGHTSHIFT_MODEL_PROVIDER: 'offline' } : {}) },
      });
      this.coordination.grantReadWrite(agent.function);
      this.memory.grantRead(agent.function, config.memory.reads);
      this.memory.addWriter(config.id, agent.function.role!, config.memory.writes);
      this.breaker.grantCount(agent.function);
      this.breaker.grantAlert(agent.function);
      return agent;
    });
    for (const agent of this.agents) this.grantHalt(agent.function);

    if (pipeline.breaker.coolDownMinutes !== undefined) {
      this.breakerWatchdog = new NightshiftFunction(this, 'BreakerWatchdog', {
        entry: 'lambdas/breaker-watchdog/handler.ts',
        environment: { ...breakerEnvironment, POWERTOOLS_SERVICE_NAME: 'breaker-watchdog' },
        tracing: pipeline.tracing,
      });
      this.breaker.grantCount(this.breakerWatchdog);
      this.grantHalt(this.breakerWatchdog);
      new scheduler.Schedule(this, 'BreakerWatchdogSchedule', {
        // Outside the pipeline's group: a halt must never switch off the thing that ends it.
        schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
        description: 'Moves a cooled-down circuit breaker to HALF_OPEN',
        target: new targets.LambdaInvoke(this.breakerWatchdog, { retryAttempts: 0, role: this.scheduleRole }),
      });
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.breakerWatchdog.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: 'aws-scheduler-targets.LambdaInvoke grants invoke on the function and its versions (`:*`); actions are exact',
      });
    }

    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      dashboardName: `${pipeline.name}-${pipeline.stage}`,
      agents: this.agents,
      memory: this.memory,
      scheduleGroup: this.scheduleGroup,
      scheduleDeadLetterQueue: this.scheduleDeadLetterQueue,
      alarmTopic: this.breaker.topic,
      otherFunctions: {
        ...(this.breaker.pagerForwarder ? { PagerForwarder: this.breaker.pagerForwarder } : {}),
        ...(this.breakerWatchdog ? { BreakerWatchdog: this.breakerWatchdog } : {}),
      },
      tables: { CoordinationTable: this.coordination.table, MemoryTable: this.memory.table, CounterTable: this.breaker.table },
    });

    const outputs: Record<string, string> = {
      CoordinationTableName: this.coordination.table.tableName,
      MemoryTableName: this.memory.table.tableName,
      MemoryQueueUrl: this.memory.queue.queueUrl,
      MemoryDeadLetterQueueUrl: this.memory.deadLetterQueue.queueUrl,
      CounterTableName: this.breaker.table.tableName,
      AlertTopicArn: this.breaker.topic.topicArn,
      ScheduleGroupName: this.scheduleGroup.scheduleGroupName,
      // `nightshift invoke <agent> --stage` finds the function to invoke here.
      AgentFunctionNames: this.toJsonString(Object.fromEntries(this.agents.map((a) => [a.agentId, a.function.functionName]))),
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }

  /**
   * Lets a function switch the pipeline's schedules off and on: read and update exactly those schedules, and pass
   * the schedule role back to EventBridge Scheduler (UpdateSchedule resends the target with its role).
   */
  grantHalt(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['scheduler:GetSchedule', 'scheduler:UpdateSchedule'],
      // Formatted rather than taken from the schedules, which depend on the functions being granted.
      resourceArns: this.scheduleNames.map((name) =>
        this.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.scheduleGroupName}/${name}` }),
      ),
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['iam:PassRole'], resourceArns: [this.scheduleRole.roleArn] }).principalStatement?.addCondition(
      'StringEquals',
      { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    );
  }
}
