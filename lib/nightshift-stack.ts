import { CfnOutput, Duration, Stack, Validations, type StackProps, aws_scheduler as scheduler, aws_sqs as sqs } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { PipelineConfig } from '../src/config/pipeline';
import { Agent } from './agent';
import { CircuitBreaker } from './circuit-breaker';
import { CoordinationTable } from './coordination-table';
import { MemoryStore } from './memory-store';

export interface NightshiftStackProps extends StackProps {
  /** The validated pipeline config (see `definePipeline`). */
  readonly pipeline: PipelineConfig;
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

  constructor(scope: Construct, id: string, props: NightshiftStackProps) {
    super(scope, id, props);
    const { pipeline } = props;

    this.coordination = new CoordinationTable(this, 'Coordination');
    this.breaker = new CircuitBreaker(this, 'Breaker', {
      alertEmails: pipeline.alerts.emails,
      pagerWebhookUrl: pipeline.alerts.pagerWebhookUrl,
    });
    const shared = { NIGHTSHIFT_PIPELINE: pipeline.name, NIGHTSHIFT_STAGE: pipeline.stage };
    this.memory = new MemoryStore(this, 'Memory', {
      batchSize: pipeline.steward.batchSize,
      maxReceiveCount: pipeline.steward.maxReceiveCount,
      stewardTimeout: Duration.seconds(pipeline.steward.timeoutSeconds),
      environment: shared,
    });
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: `${pipeline.name}-${pipeline.stage}`,
    });
    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules',
    });

    const environment = {
      ...shared,
      COORDINATION_TABLE: this.coordination.table.tableName,
      MEMORY_TABLE: this.memory.table.tableName,
      MEMORY_QUEUE_URL: this.memory.queue.queueUrl,
      COUNTER_TABLE: this.breaker.table.tableName,
      ALERT_TOPIC_ARN: this.breaker.topic.topicArn,
      SCHEDULE_GROUP: this.scheduleGroup.scheduleGroupName,
      POWERTOOLS_METRICS_NAMESPACE: 'Nightshift',
    };
    this.agents = pipeline.agents.map((config) => {
      const agent = new Agent(this, `Agent-${config.id}`, {
        pipeline,
        agentId: config.id,
        scheduleGroup: this.scheduleGroup,
        scheduleDeadLetterQueue: this.scheduleDeadLetterQueue,
        environment,
      });
      this.coordination.grantReadWrite(agent.function);
      this.memory.grantRead(agent.function);
      this.memory.grantSubmit(agent.function);
      this.breaker.grantCount(agent.function);
      this.breaker.grantAlert(agent.function);
      return agent;
    });

    const outputs: Record<string, string> = {
      CoordinationTableName: this.coordination.table.tableName,
      MemoryTableName: this.memory.table.tableName,
      MemoryQueueUrl: this.memory.queue.queueUrl,
      MemoryDeadLetterQueueUrl: this.memory.deadLetterQueue.queueUrl,
      CounterTableName: this.breaker.table.tableName,
      AlertTopicArn: this.breaker.topic.topicArn,
      ScheduleGroupName: this.scheduleGroup.scheduleGroupName,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
  }
}
