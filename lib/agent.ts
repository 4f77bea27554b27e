import { createHash } from 'node:crypto';
import {
  ArnFormat,
  type CfnElement,
  Duration,
  Names,
  Stack,
  TimeZone,
  Validations,
  aws_bedrock as bedrock,
  aws_cloudwatch as cloudwatch,
  aws_iam as iam,
  aws_scheduler as scheduler,
  aws_scheduler_targets as targets,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { parseCron, toEventBridgeCron } from '../src/config/cron.ts';
import { longestGapMs } from '../src/config/schedule-times.ts';
import { scheduleName } from '../src/config/agent-spec.ts';
import { METRICS_NAMESPACE, type MetricName, SERVICE_DIMENSION } from '../src/contract/metrics.ts';
import { MODEL_PROFILE_VARIABLE, commonVariables } from '../src/contract/environment.ts';
import { InvalidPropsError } from '../src/errors.ts';
import { DESTINATION_REGIONS, parseModelId } from '../src/config/models.ts';
import type { AgentConfig } from '../src/config/pipeline.ts';
import { NightshiftFunction } from './nightshift-function.ts';

export interface AgentProps {
  /** The agent's entry in the validated pipeline config (`definePipeline(...).agents[i]`). */
  readonly config: AgentConfig;
  /** X-Ray active tracing of the function. @default false */
  readonly tracing?: boolean;
  /** Group the agent's schedules are created in (one per pipeline, so a halt can find them all). */
  readonly scheduleGroup: scheduler.IScheduleGroup;
  /**
   * Where EventBridge Scheduler (and a trigger's rule) sends invocations it gave up on, and Lambda a run that failed
   * its retries. One of the agent's own keeps its role from sending to any other: it can fake only its own lost
   * invocations, never keep another's incident open. @default - a queue of the agent's own (`deadLetterQueue`)
   */
  readonly scheduleDeadLetterQueue?: sqs.IQueue;
  /**
   * Role EventBridge Scheduler assumes to invoke the function; one shared role lets the breaker pass a single role
   * when it rewrites schedules. @default - aws-scheduler-targets creates one per target
   */
  readonly scheduleRole?: iam.IRole;
  /**
   * Retries of a failed invocation. Retries of one slot are safe: the agent guard's task lock is keyed on the
   * scheduled time, so a retried slot never runs twice.
   * @default 2
   */
  readonly retryAttempts?: number;
  /** How long Scheduler keeps retrying one slot. @default Duration.hours(1) */
  readonly maxEventAge?: Duration;
  /** What the agent's schedule names start with (see `schedulePrefix`). @default '' */
  readonly scheduleNamePrefix?: string;
  /** Shared environment (table names, queue URL, …). @default - none */
  readonly environment?: Record<string, string>;
}

/**
 * One agent: its Lambda function and one EventBridge Scheduler schedule per cron entry. Each invocation carries the
 * agent id and the slot's scheduled time, from which the guard derives the task lock id.
 */
export class Agent extends Construct {
  readonly agentId: string;
  readonly function: NightshiftFunction;
  /** Its invocations that were never run: what Scheduler, a trigger's rule or Lambda's retries gave up on. */
  readonly deadLetterQueue: sqs.IQueue;
  readonly schedules: readonly scheduler.Schedule[];
  /** What the function may invoke on Bedrock: the configured model (and, for a profile, its destinations). */
  readonly modelArns: readonly string[] = [];
  /**
   * The agent's own application inference profile over its configured model: the only way its role can call that
   * model, so Bedrock's own metrics of it (`AWS/Bedrock`, `ModelId` = the profile's id) count every token the agent
   * spends, metered by its runtime or not. @default - none (no model configured)
   */
  readonly modelProfile?: bedrock.CfnApplicationInferenceProfile;
  /** The longest wait between two of its scheduled runs, over a year of its cron entries. */
  readonly longestGap: Duration;
  /** How long one run may hold its task lock. */
  readonly lease: Duration;
  /** Whether another agent's run depends on this one's heartbeat (it has upstreams of its own, when true). */
  readonly hasUpstream: boolean;
  /** Model tokens its runtime lets it spend per UTC day. @default - no budget */
  readonly tokenBudgetPerDay?: number;

  constructor(scope: Construct, id: string, props: AgentProps) {
    super(scope, id);
    const { config } = props;
    this.agentId = config.id;
    this.longestGap = Duration.millis(longestGapMs(config.schedules));
    this.lease = Duration.minutes(config.lock.leaseMinutes);
    this.hasUpstream = config.upstream.length > 0;
    if (config.tokenBudgetPerDay !== undefined) this.tokenBudgetPerDay = config.tokenBudgetPerDay;
    this.deadLetterQueue = props.scheduleDeadLetterQueue ?? ownDeadLetterQueue(this);
    this.function = new NightshiftFunction(this, 'Function', {
      entry: config.entry,
      kind: 'agent',
      timeout: Duration.seconds(config.timeoutSeconds),
      memorySize: config.memoryMb,
      tracing: props.tracing ?? false,
      // The config's own variables first: nothing it sets can replace what Nightshift and Lambda set (the schema
      // refuses those names too).
      environment: { ...config.environment, ...props.environment, ...commonVariables(config.id) },
      // Scheduler invokes asynchronously: a run that failed Lambda's retries too is kept beside the invocations
      // Scheduler gave up on, where an alarm sees it and `nightshift invoke --at` can run the slot again.
      deadLetterQueue: this.deadLetterQueue,
    });

    this.schedules = config.schedules.map((entry, index) => {
      const target = new targets.LambdaInvoke(this.function, {
        input: scheduler.ScheduleTargetInput.fromObject({
          agentId: config.id,
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
          scheduleArn: scheduler.ContextAttribute.scheduleArn,
          attemptNumber: scheduler.ContextAttribute.attemptNumber,
        }),
        retryAttempts: props.retryAttempts ?? 2,
        maxEventAge: props.maxEventAge ?? Duration.hours(1),
        deadLetterQueue: this.deadLetterQueue,
        ...(props.scheduleRole ? { role: props.scheduleRole } : {}),
      });
      return new scheduler.Schedule(this, `Schedule${index}`, {
        scheduleName: scheduleName(config.id, index, props.scheduleNamePrefix),
        description: `${config.id}: ${entry.cron} (${entry.timeZone})`,
        scheduleGroup: props.scheduleGroup,
        schedule: scheduler.ScheduleExpression.expression(
          toEventBridgeCron(parseCron(entry.cron)),
          TimeZone.of(entry.timeZone),
        ),
        target,
      });
    });

    if (config.model) {
      this.modelProfile = this.ownModelProfile(config.model);
      this.modelArns = this.grantInvokeModel(config.model, this.modelProfile);
      this.function.addEnvironment(MODEL_PROFILE_VARIABLE, this.modelProfile.attrInferenceProfileArn);
    }
    this.grantSecrets(config.secrets);
    for (const permission of config.permissions) {
      this.function.addToRolePolicy(new iam.PolicyStatement({ actions: [...permission.actions], resources: [...permission.resources] }));
    }

    const stack = Stack.of(this);
    const functionLogicalId = stack.getLogicalId(this.function.node.defaultChild as CfnElement);
    Validations.of(stack).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionLogicalId}.Arn>:*]`,
      reason: 'aws-scheduler-targets.LambdaInvoke grants invoke on the function and its versions (`:*`); actions are exact',
    });
  }

  /**
   * A metric the agent's runtime publishes (namespace `Nightshift`, dimension `service` = the agent id), e.g.
   * `RunsCompleted`, `DegradedRuns`, `OutputsPublished`.
   * @default statistic Sum, period 5 minutes
   */
  metric(metricName: MetricName, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { [SERVICE_DIMENSION]: this.agentId },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...props,
    });
  }

  /** Runs that completed (degraded ones included): what the dead-man's switch watches. */
  metricRunsCompleted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RunsCompleted', props);
  }

  /** Runs that went ahead degraded because an upstream's heartbeat was stale or its last run failed. */
  metricDegradedRuns(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DegradedRuns', props);
  }

  /**
   * Lets the function read exactly its own secrets: `ssm:GetParameter` on each parameter (a SecureString under the
   * account's `aws/ssm` key, which needs no KMS grant), `secretsmanager:GetSecretValue` on each secret (its ARN ends
   * in six random characters, hence the `-??????`). Only the names reach the template; the values are read at run time.
   */
  private grantSecrets(secrets: AgentConfig['secrets']): void {
    const stack = Stack.of(this);
    const parameters = Object.values(secrets).flatMap((s) => (s.parameter ? [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: s.parameter.slice(1) })] : []));
    const named = Object.values(secrets).flatMap((s) => (s.secret ? [stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${s.secret}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })] : []));
    if (parameters.length) iam.Grant.addToPrincipal({ grantee: this.function, actions: ['ssm:GetParameter'], resourceArns: parameters });
    if (named.length) iam.Grant.addToPrincipal({ grantee: this.function, actions: ['secretsmanager:GetSecretValue'], resourceArns: named });
  }

  /**
   * Tokens Bedrock counted on the agent's own inference profile (input plus output, summed over `period`): every
   * call its role can make to its model, whether or not its runtime metered it against the budget.
   */
  metricModelTokens(period: Duration): cloudwatch.IMetric {
    if (!this.modelProfile) throw new InvalidPropsError(`${this.agentId}: no model is configured, so it has no inference profile to measure`);
    const of = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/Bedrock', metricName, dimensionsMap: { ModelId: this.modelProfile!.attrInferenceProfileId }, statistic: 'Sum', period });
    return new cloudwatch.MathExpression({ expression: 'FILL(input, 0) + FILL(output, 0)', usingMetrics: { input: of('InputTokenCount'), output: of('OutputTokenCount') }, period, label: `${this.agentId} model tokens` });
  }

  /** The agent's application inference profile, copied from its configured model or cross-region profile. */
  private ownModelProfile(model: { readonly id: string }): bedrock.CfnApplicationInferenceProfile {
    const stack = Stack.of(this);
    const ref = parseModelId(model.id);
    const copyFrom =
      ref.kind === 'foundation-model'
        ? stack.formatArn({ service: 'bedrock', account: '', resource: 'foundation-model', resourceName: ref.modelId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })
        : stack.formatArn({ service: 'bedrock', resource: 'inference-profile', resourceName: ref.profileId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    // Every property is replaced on change, and CloudFormation cannot replace a named resource under the same name:
    // the name carries a hash of the model, so changing it makes a new profile (and the agent's grant moves to it).
    const modelHash = createHash('sha256').update(ref.kind === 'foundation-model' ? ref.modelId : ref.profileId).digest('hex').slice(0, 8);
    return new bedrock.CfnApplicationInferenceProfile(this, 'ModelProfile', {
      // Unique in the account and region, within Bedrock's 64 characters and its `([0-9a-zA-Z][ _-]?)+` pattern.
      inferenceProfileName: profileName(`${Names.uniqueResourceName(this, { maxLength: 55, separator: '-' })}-${modelHash}`),
      description: profileName(`Nightshift agent ${this.agentId} its only way to its model`),
      modelSource: { copyFrom },
      tags: [{ key: 'nightshift:agent', value: this.agentId }],
    });
  }

  /**
   * Lets the function call its configured model only through its own application inference profile: the profile
   * itself, and what it routes to (a foundation model in the stack's region, or a cross-region profile and the model
   * in each of its destination regions) only with `bedrock:InferenceProfileArn` naming the agent's profile. The role
   * cannot call the model directly, nor through the shared cross-region profile, in any region.
   */
  private grantInvokeModel(model: { readonly id: string; readonly destinationRegions?: readonly string[] | undefined }, own: bedrock.CfnApplicationInferenceProfile): string[] {
    const stack = Stack.of(this);
    const ref = parseModelId(model.id);
    const foundationModel = (region: string) =>
      stack.formatArn({ service: 'bedrock', region, account: '', resource: 'foundation-model', resourceName: ref.modelId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const routed =
      ref.kind === 'foundation-model'
        ? [foundationModel(stack.region)]
        : [
            stack.formatArn({ service: 'bedrock', resource: 'inference-profile', resourceName: ref.profileId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
            ...(model.destinationRegions ?? DESTINATION_REGIONS[ref.geography]).map(foundationModel),
          ];
    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['bedrock:InvokeModel'], resourceArns: [own.attrInferenceProfileArn] });
    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['bedrock:InvokeModel'], resourceArns: routed }).principalStatement?.addCondition('StringEquals', {
      'bedrock:InferenceProfileArn': own.attrInferenceProfileArn,
    });
    return [own.attrInferenceProfileArn, ...routed];
  }
}

/** A name or description Bedrock accepts (`([0-9a-zA-Z][ _-]?)+`): letters and digits, single separators between. */
function profileName(text: string): string {
  return text.replace(/[^0-9a-zA-Z]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64).replace(/-+$/, '');
}

/** The agent's own dead-letter queue for invocations that never ran (14 days, SSE, TLS only). */
function ownDeadLetterQueue(agent: Construct): sqs.Queue {
  const queue = new sqs.Queue(agent, 'DeadLetterQueue', { retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
  for (const id of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
    Validations.of(queue).acknowledge({ id, reason: "This queue is itself the dead-letter queue of the agent's schedules, triggers and failed runs" });
  }
  return queue;
}
