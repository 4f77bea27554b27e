import { AssetHashType, DockerImage, Duration, RemovalPolicy, Validations, aws_iam as iam, aws_lambda as lambda, aws_logs as logs, type aws_sqs as sqs } from 'aws-cdk-lib';
import { InvalidPropsError } from '../src/errors.ts';
import { dirname, relative, resolve } from 'node:path';
import type { Construct } from 'constructs';
import { tracingVariables } from '../src/contract/environment.ts';
import { HANDLER, agentEntry, bundle } from './bundling.ts';

export interface NightshiftFunctionProps {
  /** Handler file; its `handler` export is the entry point (for `kind: 'agent'`, its `work` export). */
  readonly entry: string;
  /**
   * `agent`: `entry` is an agent module exporting `work`, bundled inside Nightshift's agent handler.
   * @default 'handler'
   */
  readonly kind?: 'handler' | 'agent';
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default - none */
  readonly environment?: Record<string, string>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * X-Ray active tracing; the handler then also traces its AWS SDK calls with Powertools Tracer
   * (`NIGHTSHIFT_TRACING=true`). @default false
   */
  readonly tracing?: boolean;
  /**
   * How the function is invoked, which decides where a failed invocation goes: `async` ones (Scheduler, SNS) need
   * `deadLetterQueue`; a `sync` one (a caller waiting for the answer, an SQS event source mapping) reports its
   * failure to whoever invoked it, so a dead-letter queue of its own would never receive anything.
   * @default 'async'
   */
  readonly invocation?: 'async' | 'sync';
  /** Where an asynchronous invocation goes after Lambda's retries failed. Required for `invocation: 'async'`. */
  readonly deadLetterQueue?: sqs.IQueue;
  /** Concurrent executions reserved for this function (and its ceiling). @default - none reserved */
  readonly reservedConcurrency?: number;
  /**
   * The Node.js runtime, at least Node.js 22; the bundle targets its Node version.
   * @default - the `nightshift:runtime` context value (e.g. `nodejs24.x`), else the newest Node.js runtime the app's
   * aws-cdk-lib knows (what cdk-nag's latest-runtime rules ask for)
   */
  readonly runtime?: lambda.Runtime;
}

/** The context key (cdk.json, `-c`, or `NightshiftPipelineProps.runtime`) naming every function's Node.js runtime. */
export const RUNTIME_CONTEXT = 'nightshift:runtime';

/** The oldest Node.js major the functions' code runs on (Lambda's Node.js 20 runtime is deprecated). */
const OLDEST_NODE_MAJOR = 22;

/**
 * The newest Node.js runtime the installed aws-cdk-lib knows. aws-cdk-lib adds a runtime once Lambda runs it, and
 * cdk-nag's `AwsSolutions-L1` and `Serverless-LambdaLatestVersion` compare against the same list, so this default
 * follows the app's aws-cdk-lib as it is upgraded.
 */
export function newestNodeRuntime(): lambda.Runtime {
  let newest: { runtime: lambda.Runtime; major: number } | undefined;
  for (const runtime of lambda.Runtime.ALL) {
    const major = nodeMajor(runtime.name);
    if (major !== undefined && (!newest || major > newest.major)) newest = { runtime, major };
  }
  if (!newest) throw new InvalidPropsError('aws-cdk-lib knows no Node.js Lambda runtime (lambda.Runtime.ALL has none)');
  return newest.runtime;
}

/** `22` for `nodejs22.x`; nothing for another family or a runtime without a major version. */
export function nodeMajor(runtimeName: string): number | undefined {
  const match = /^nodejs(\d+)\.x$/.exec(runtimeName);
  return match ? Number(match[1]) : undefined;
}

/** The runtime a function in `scope` runs on: its prop, the context, or the newest; checked to be Node.js 22+. */
function runtimeFor(scope: Construct, id: string, asked: lambda.Runtime | undefined): lambda.Runtime {
  const context = scope.node.tryGetContext(RUNTIME_CONTEXT) as unknown;
  let runtime = asked;
  let source = 'the runtime prop';
  if (!runtime && context !== undefined) {
    source = `context ${RUNTIME_CONTEXT}`;
    runtime = lambda.Runtime.ALL.find((known) => known.name === context);
    if (!runtime) {
      const known = lambda.Runtime.ALL.map((r) => r.name).filter((name) => (nodeMajor(name) ?? 0) >= OLDEST_NODE_MAJOR);
      throw new InvalidPropsError(`NightshiftFunction ${id}: ${source} is '${String(context)}', which this aws-cdk-lib does not know; use one of ${[...new Set(known)].join(', ')}`);
    }
  }
  runtime ??= newestNodeRuntime();
  const major = nodeMajor(runtime.name);
  if (major === undefined || major < OLDEST_NODE_MAJOR) {
    throw new InvalidPropsError(`NightshiftFunction ${id}: ${source} is ${runtime.name}; Nightshift's functions need a Node.js runtime of ${OLDEST_NODE_MAJOR} or later (e.g. nodejs${OLDEST_NODE_MAJOR}.x)`);
  }
  return runtime;
}

/**
 * A Node.js Lambda function with Nightshift's defaults: arm64, the newest Node.js runtime the app's aws-cdk-lib knows
 * (or the one chosen, see {@link NightshiftFunctionProps.runtime}), its own log group with a retention, an
 * execution role that may write only its own logs, and an ESM bundle built by {@link bundle} on this machine (no
 * Docker), hashed by its output so a change anywhere in the code it includes redeploys it.
 */
export class NightshiftFunction extends lambda.Function {
  /** The handler file the bundle is built from. */
  readonly entry: string;
  /** Whether `entry` is an agent's work module (bundled inside the agent handler). */
  readonly kind: 'handler' | 'agent';

  constructor(scope: Construct, id: string, props: NightshiftFunctionProps) {
    const runtime = runtimeFor(scope, `${scope.node.path}/${id}`, props.runtime);
    const target = `node${nodeMajor(runtime.name)}`;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Our own role instead of the AWSLambdaBasicExecutionRole managed policy: logs to this function's group only.
    const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      code: lambda.Code.fromAsset(dirname(props.entry), {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Never used: local bundling always succeeds or throws. The property is required.
          image: DockerImage.fromRegistry('nightshift/no-docker'),
          // Never run either, but part of the key CDK caches staged assets by (the source folder and these options):
          // without the entry, two agents in one folder would share the first one's bundle.
          command: ['nightshift-bundle', props.kind ?? 'handler', relative(process.cwd(), resolve(props.entry)), target],
          local: {
            tryBundle(outputDir) {
              bundle(props.kind === 'agent' ? agentEntry(props.entry) : props.entry, outputDir, { target });
              return true;
            },
          },
        },
      }),
      handler: HANDLER,
      runtime,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      environment: { ...props.environment, ...tracingVariables(props.tracing ?? false) },
      logGroup,
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      ...(props.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrency }),
    });
    this.entry = props.entry;
    this.kind = props.kind ?? 'handler';
    if ((props.invocation ?? 'async') === 'async' && !props.deadLetterQueue) {
      throw new InvalidPropsError(`NightshiftFunction ${this.node.path}: an asynchronously invoked function needs a deadLetterQueue, or a failed invocation is dropped`);
    }
    if (props.invocation === 'sync') {
      Validations.of(this).acknowledge({ id: 'Serverless-LambdaDLQ', reason: 'invoked synchronously: a failure goes back to the caller, so a dead-letter queue would never receive anything' });
    }
    if (props.tracing) this.traceWithXRay(role);
    else Validations.of(this).acknowledge({ id: 'Serverless-LambdaTracing', reason: 'X-Ray tracing is opt-in (`tracing: true` in the pipeline config): every trace is billed' });
  }

  /**
   * Reserves `count` concurrent executions for this function (also its ceiling): another function of the account,
   * an agent fanning out say, can then never throttle it. Lambda keeps 100 of the account's limit unreserved.
   */
  reserveConcurrency(count: number): void {
    (this.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = count;
  }

  /**
   * Lambda's active tracing, with the X-Ray write permission in a policy of its own: X-Ray's write actions support
   * no resource-level permissions, so the `*` is acknowledged for that policy alone, never for the function's
   * other grants.
   */
  private traceWithXRay(role: iam.Role): void {
    (this.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: lambda.Tracing.ACTIVE };
    const policy = new iam.Policy(this, 'XRayPolicy', {
      statements: [new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] })],
    });
    policy.attachToRole(role);
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; this policy holds only them',
    });
  }
}
