import { type CfnResource, Duration, Stack, Validations, aws_iam as iam, aws_scheduler as scheduler, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface PipelineSchedulesProps {
  /** The schedule group's name: one group per pipeline, so a halt can find every schedule in it. */
  readonly groupName: string;
  /** Names of every agent schedule in the group: what a halt may switch off and on. */
  readonly scheduleNames: readonly string[];
  /** How long undeliverable invocations stay in the dead-letter queue. @default Duration.days(14) */
  readonly deadLetterRetention?: Duration;
  /**
   * Logical ids these resources had before they moved into this construct: an update then keeps the group and the
   * queue (with what it holds) instead of replacing them. @default - ids from this construct's path
   */
  readonly keepLogicalIds?: { readonly group: string; readonly deadLetterQueue: string; readonly role: string };
}

/**
 * Where a pipeline's schedules live and what they need: the EventBridge Scheduler group, the one role every
 * schedule invokes its agent with (so a halt passes back a single role when it rewrites a schedule), the
 * dead-letter queue for invocations Scheduler gave up on, and the grant that lets a function halt the pipeline.
 */
export class PipelineSchedules extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly role: iam.Role;
  /** Invocations EventBridge Scheduler could not deliver after its retries. */
  readonly deadLetterQueue: sqs.Queue;
  readonly groupName: string;
  private readonly scheduleNames: readonly string[];

  constructor(scope: Construct, id: string, props: PipelineSchedulesProps) {
    super(scope, id);
    this.groupName = props.groupName;
    this.scheduleNames = props.scheduleNames;
    this.group = new scheduler.ScheduleGroup(this, 'Group', { scheduleGroupName: props.groupName });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    for (const id of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
      Validations.of(this.deadLetterQueue).acknowledge({ id, reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules and of the agents\' failed runs' });
    }
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler invokes the agents with this role',
    });
    if (props.keepLogicalIds) {
      for (const [resource, logicalId] of [[this.group, props.keepLogicalIds.group], [this.deadLetterQueue, props.keepLogicalIds.deadLetterQueue], [this.role, props.keepLogicalIds.role]] as const) {
        (resource.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
      }
    }
  }

  /**
   * Lets a function switch the pipeline's schedules off and on: read and update exactly those schedules, and pass
   * the schedule role back to EventBridge Scheduler (UpdateSchedule resends the target with its role).
   */
  grantHalt(grantee: iam.IGrantable): void {
    // A pipeline run only by triggers has no schedule to switch: a halt is its agents refusing to run.
    if (this.scheduleNames.length === 0) return;
    const stack = Stack.of(this);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['scheduler:GetSchedule', 'scheduler:UpdateSchedule'],
      // Formatted rather than taken from the schedules, which depend on the functions being granted.
      resourceArns: this.scheduleNames.map((name) => stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.groupName}/${name}` })),
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['iam:PassRole'], resourceArns: [this.role.roleArn] }).principalStatement?.addCondition('StringEquals', {
      'iam:PassedToService': 'scheduler.amazonaws.com',
    });
  }
}
