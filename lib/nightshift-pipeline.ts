import {
  type CfnElement,
  CfnOutput,
  Duration,
  Stack,
  Annotations,
  Validations,
  type aws_lambda as lambda,
  aws_scheduler as scheduler,
  aws_scheduler_targets as targets,
} from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';
import { InvalidPropsError } from '../src/errors.ts';
import { outputKey } from '../src/contract/outputs.ts';
import { agentSpec, breakerSpec, schedulePrefix } from '../src/config/agent-spec.ts';
import { type BreakerEnvironment, agentVariables, breakerVariables, commonVariables } from '../src/contract/environment.ts';
import { STACK_OUTPUT, type StackOutputKey } from '../src/contract/outputs.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { Agent } from './agent.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { CoordinationTable } from './coordination-table.ts';
import { MemoryStore } from './memory-store.ts';
import { builtInHandler, checkAgentEntries } from './bundling.ts';
import { NightshiftFunction, RUNTIME_CONTEXT } from './nightshift-function.ts';
import { checkWithCdkNag } from './nightshift-checks.ts';
import { BreakerAuthority } from './breaker-authority.ts';
import { PipelineMonitoring } from './pipeline-monitoring.ts';
import { PipelineTriggers } from './pipeline-triggers.ts';
import { triggeredBy } from '../src/config/trigger-routes.ts';
import { PipelineWatch } from './pipeline-watch.ts';
import { PipelineReview } from './pipeline-review.ts';
import { watchSpec } from '../src/config/watch-plan.ts';
import { PipelineSchedules } from './pipeline-schedules.ts';

export interface NightshiftPipelineProps {
  /** The validated pipeline config (see `definePipeline`). */
  readonly pipeline: PipelineConfig;
  /**
   * Where `ctx.model` calls go. `offline` answers without a model (for stacks emulated without Bedrock, such as
   * LocalStack's). @default 'bedrock'
   */
  readonly modelProvider?: 'bedrock' | 'offline';
  /**
   * Every function's Node.js runtime (22 or later); their bundles target its Node version. Pinning one older than
   * the newest your aws-cdk-lib knows fails cdk-nag's `AwsSolutions-L1` and `Serverless-LambdaLatestVersion` unless
   * you acknowledge them (`Validations.of(pipeline).acknowledge(...)`).
   * @default - the `nightshift:runtime` context value, else the newest Node.js runtime the app's aws-cdk-lib knows
   */
  readonly runtime?: lambda.Runtime;
}

/**
 * A whole pipeline in any stack: coordination, memory steward, circuit breaker and its function, one scheduled
 * function per agent, monitoring, and the outputs the ops CLI finds it by. Two pipelines may share a stack (or an
 * account) as long as their `name`/`stage` differ: every name that must be unique is derived from them.
 *
 *   new NightshiftPipeline(this, 'Newsroom', { pipeline });
 */
export class NightshiftPipeline extends Construct {
  readonly coordination: CoordinationTable;
  readonly memory: MemoryStore;
  readonly breaker: CircuitBreaker;
  /** The schedule group, the role schedules invoke with, their dead-letter queue, and the halt grant. */
  readonly schedules: PipelineSchedules;
  readonly agents: readonly Agent[];
  /** Moves a cooled-down breaker to HALF_OPEN; only when the config sets `breaker.coolDownMinutes`. */
  readonly breakerWatchdog?: NightshiftFunction;
  /** The breaker function: the only function that moves the breaker, switches schedules and publishes trip alerts. */
  readonly breakerAuthority: BreakerAuthority;
  /** Dashboard and alarms (to the alert topic). */
  readonly monitoring?: PipelineMonitoring;
  /** The watch function and its silence alarm (`monitoring: 'watch'`, the default). */
  readonly watch?: PipelineWatch;
  /** The approval page and its links' key: only when an agent has a review policy. */
  readonly review?: PipelineReview;
  /** The pipeline's event bus and its trigger rules, when an agent has triggers. */
  readonly triggers?: PipelineTriggers;

  constructor(scope: Construct, id: string, props: NightshiftPipelineProps) {
    super(scope, id);
    const { pipeline } = props;
    checkAgentEntries(pipeline);
    claimName(this, pipeline);
    // Read by each NightshiftFunction below (context must be set before the first child).
    if (props.runtime) this.node.setContext(RUNTIME_CONTEXT, props.runtime.name);
    const stack = Stack.of(this);
    const asked = this.node.tryGetContext('config') as string | undefined;
    if (asked !== undefined && this.node.id !== 'Default') {
      // `-c config=` names a file this construct never reads: its pipeline came in its props. Say so, not nothing.
      Annotations.of(this).addWarningV2(
        'nightshift:config-context-ignored',
        `-c config=${asked} is set, but this NightshiftPipeline was given pipeline '${pipeline.name}' in its props: load the file with loadPipeline(app.node.tryGetContext('config')) to honour it`,
      );
    }
    // A NightshiftStack holds its pipeline as `Default`, invisible in logical ids: the stack's ids stay what they were.
    const embedded = this.node.id !== 'Default';
    // cdk-nag over what this construct makes (in a NightshiftStack, the whole stack), never the user's own resources.
    checkWithCdkNag(embedded ? this : stack);
    const prefix = schedulePrefix(pipeline, embedded);
    const spec = breakerSpec(pipeline, prefix);

    this.coordination = new CoordinationTable(this, 'Coordination');
    this.breaker = new CircuitBreaker(this, 'Breaker', {
      alertEmails: pipeline.alerts.emails,
      tracing: pipeline.tracing,
      ...(pipeline.alerts.pagerWebhookParameter ? { pagerWebhookParameter: pipeline.alerts.pagerWebhookParameter } : {}),
      // The watch's one alarm reaches the topic through a function, so the topic needs no $1-a-month key of its own.
      topicEncryption: pipeline.monitoring === 'watch' ? 'aws-managed' : 'customer-key',
    });
    const shared = { NIGHTSHIFT_PIPELINE: pipeline.name, NIGHTSHIFT_STAGE: pipeline.stage };
    this.memory = new MemoryStore(this, 'Memory', {
      batchSize: pipeline.steward.batchSize,
      maxReceiveCount: pipeline.steward.maxReceiveCount,
      stewardTimeout: Duration.seconds(pipeline.steward.timeoutSeconds),
      ...(pipeline.reservedConcurrency ? { stewardConcurrency: pipeline.reservedConcurrency.steward } : {}),
      environment: shared,
      tracing: pipeline.tracing,
      ...(pipeline.embeddings ? { embeddingDimensions: pipeline.embeddings.dimensions } : {}),
    });
    this.schedules = new PipelineSchedules(this, 'Schedules', {
      groupName: `${pipeline.name}-${pipeline.stage}`,
      scheduleNames: spec.scheduleNames,
      // Where these were created, in a NightshiftStack, before PipelineSchedules held them.
      ...(embedded ? {} : { keepLogicalIds: { group: 'ScheduleGroup4D377372', deadLetterQueue: 'ScheduleDeadLetterQueue0D6B48D2', role: 'ScheduleRole756A1A25' } }),
    });

    const breakerEnvironment: BreakerEnvironment = {
      counterTable: this.breaker.table.tableName,
      alertTopicArn: this.breaker.topic.topicArn,
      scheduleGroup: this.schedules.group.scheduleGroupName,
      breakerSpec: spec,
    };
    // The only function that moves the breaker, switches schedules and alerts: agents ask it through their aliases.
    this.breakerAuthority = new BreakerAuthority(this, 'BreakerAuthority', {
      breaker: this.breaker,
      schedules: this.schedules,
      spec,
      environment: shared,
      tracing: pipeline.tracing,
    });
    this.agents = pipeline.agents.map((config) => {
      const agent = new Agent(this, `Agent-${config.id}`, {
        config,
        tracing: pipeline.tracing,
        scheduleGroup: this.schedules.group,
        // No scheduleDeadLetterQueue: each agent's lost invocations go to a queue of its own.
        scheduleRole: this.schedules.role,
        scheduleNamePrefix: prefix,
        environment: {
          ...shared,
          ...agentVariables({
            counterTable: this.breaker.table.tableName,
            breakerFunction: this.breakerAuthority.aliasFor(config.id).functionArn,
            coordinationTable: this.coordination.table.tableName,
            memoryTable: this.memory.table.tableName,
            memoryQueueUrl: this.memory.queue.queueUrl,
            agentSpec: agentSpec(pipeline, config.id),
            modelProvider: props.modelProvider ?? 'bedrock',
            // An agent that reads memory embeds its queries; one that reads none gets no Bedrock grant for it.
            ...(pipeline.embeddings && config.memory.reads.length > 0 ? { embeddingDimensions: pipeline.embeddings.dimensions } : {}),
          }),
        },
      });
      // Every grant scoped to the agent's own keys: its locks, heartbeat, runs, window and budget.
      this.coordination.grantAgent(agent.function, config.id, config.upstream);
      this.memory.grantRead(agent.function, config.memory.reads);
      this.memory.addWriter(config.id, agent.function.role!, config.memory.writes, pipeline.pinnable, config.memory.maxUpdatesPerHour, {
        receipts: triggeredBy(pipeline.agents, config.id).length > 0,
      });
      // A run started by an upstream's output waits for the steward's receipts of that run's updates.
      this.memory.grantReceipts(agent.function, config.triggers.flatMap((t) => ('outputsOf' in t ? [t.outputsOf] : [])));
      this.breaker.grantAgentCounters(agent.function, config.id);
      this.breakerAuthority.grantRequest(config.id, agent.function);
      return agent;
    });

    if (pipeline.agents.some((a) => a.triggers.length > 0)) {
      this.triggers = new PipelineTriggers(this, 'Triggers', { pipeline, agents: this.agents });
    }

    if (pipeline.breaker.coolDownMinutes !== undefined) {
      this.breakerWatchdog = new NightshiftFunction(this, 'BreakerWatchdog', {
        entry: builtInHandler('breaker-watchdog'),
        environment: { ...shared, ...breakerVariables(breakerEnvironment), ...commonVariables('breaker-watchdog') },
        tracing: pipeline.tracing,
        deadLetterQueue: this.schedules.deadLetterQueue,
      });
      this.breaker.grantBreakerState(this.breakerWatchdog);
      this.schedules.grantHalt(this.breakerWatchdog);
      new scheduler.Schedule(this, 'BreakerWatchdogSchedule', {
        // Outside the pipeline's group: a halt must never switch off the thing that ends it.
        schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
        description: 'Moves a cooled-down circuit breaker to HALF_OPEN',
        target: new targets.LambdaInvoke(this.breakerWatchdog, { retryAttempts: 0, role: this.schedules.role }),
      });
      Validations.of(stack).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.breakerWatchdog.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: 'aws-scheduler-targets.LambdaInvoke grants invoke on the function and its versions (`:*`); actions are exact',
      });
    }

    if (pipeline.monitoring === 'watch') {
      this.watch = new PipelineWatch(this, 'Watch', {
        coordination: this.coordination,
        memory: this.memory,
        breaker: this.breaker,
        schedules: this.schedules,
        spec: watchSpec(pipeline),
        agentDeadLetterQueues: Object.fromEntries(this.agents.map((a) => [a.agentId, a.deadLetterQueue])),
        tracing: pipeline.tracing,
      });
      if (pipeline.agents.some((a) => a.review)) {
        this.review = new PipelineReview(this, 'Review', { pipeline, breaker: this.breaker, coordination: this.coordination, agents: this.agents, tracing: pipeline.tracing });
        this.review.attachDigest(this.watch.function);
      }
      // No custom metrics: the watch pages from what the pipeline keeps, and each metric costs $0.30 a month.
      for (const fn of this.node.findAll().filter((c): c is NightshiftFunction => c instanceof NightshiftFunction)) fn.addEnvironment('POWERTOOLS_METRICS_DISABLED', 'true');
    } else {
      this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
        dashboardName: `${pipeline.name}-${pipeline.stage}`,
        agents: this.agents,
        memory: this.memory,
        scheduleGroup: this.schedules.group,
        scheduleDeadLetterQueue: this.schedules.deadLetterQueue,
        breaker: this.breaker,
        otherFunctions: {
          ...(this.breaker.pagerForwarder ? { PagerForwarder: this.breaker.pagerForwarder } : {}),
          ...(this.breakerWatchdog ? { BreakerWatchdog: this.breakerWatchdog } : {}),
          BreakerAuthority: this.breakerAuthority.function,
        },
        tables: { CoordinationTable: this.coordination.table, MemoryTable: this.memory.table, CounterTable: this.breaker.table },
      });
    }

    // What must run whatever the agents do: no agent fanning out can throttle the pages, the breaker or the steward.
    const reserved = pipeline.reservedConcurrency;
    if (reserved) {
      this.breakerAuthority.function.reserveConcurrency(reserved.breaker);
      this.breaker.pagerForwarder?.reserveConcurrency(reserved.pager);
      this.watch?.function.reserveConcurrency(reserved.watch);
      this.watch?.relay.reserveConcurrency(reserved.pager);
    }

    const outputs: Partial<Record<StackOutputKey, string>> = {
      coordinationTable: this.coordination.table.tableName,
      memoryTable: this.memory.table.tableName,
      memoryQueueUrl: this.memory.queue.queueUrl,
      memoryDeadLetterQueueUrl: this.memory.deadLetterQueue.queueUrl,
      counterTable: this.breaker.table.tableName,
      alertTopicArn: this.breaker.topic.topicArn,
      scheduleGroup: this.schedules.group.scheduleGroupName,
      // `nightshift invoke <agent> --stage` finds the function to invoke here.
      agentFunctionNames: stack.toJsonString(Object.fromEntries(this.agents.map((a) => [a.agentId, a.function.functionName]))),
      redriveFunction: this.memory.redrive.functionName,
      ...(this.triggers ? { eventBusName: this.triggers.bus.eventBusName } : {}),
      ...(this.review ? { approvalPageUrl: this.review.url.url } : {}),
    };
    // Output keys are what the ops CLI finds a pipeline by: as they are in a NightshiftStack, prefixed by the
    // pipeline's name and stage when it shares a stack (see `outputKey`).
    for (const [key, value] of Object.entries(outputs)) {
      const output = new CfnOutput(this, STACK_OUTPUT[key as StackOutputKey], { value });
      if (embedded) output.overrideLogicalId(outputKey(key as StackOutputKey, pipeline));
    }
  }
}

/** One pipeline per name and stage in an app: their schedule group, dashboard and alarm names would collide. */
function claimName(construct: Construct, pipeline: PipelineConfig): void {
  const app = construct.node.root;
  const name = `${pipeline.name}-${pipeline.stage}`;
  const existing = PIPELINES.get(app) ?? new Map<string, string>();
  PIPELINES.set(app, existing);
  const other = existing.get(name);
  if (other !== undefined) {
    throw new InvalidPropsError(`NightshiftPipeline ${construct.node.path}: pipeline '${pipeline.name}' stage '${pipeline.stage}' is already at ${other}; give one of them another name or stage`);
  }
  existing.set(name, construct.node.path);
}

/** The pipelines of each app, by `<name>-<stage>`, with the path of the construct that holds it. */
const PIPELINES = new WeakMap<IConstruct, Map<string, string>>();
