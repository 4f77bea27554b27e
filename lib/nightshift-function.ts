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
}

/**
 * A Node.js Lambda function with Nightshift's defaults: arm64, Node.js 24, its own log group with a retention, an
 * execution role that may write only its own logs, and an ESM bundle built by {@link bundle} on this machine (no
 * Docker), hashed by its output so a change anywhere in the code it includes redeploys it.
 */
export class NightshiftFunction extends lambda.Function {
  /** The handler file the bundle is built from. */
  readonly entry: string;
  /** Whether `entry` is an agent's work module (bundled inside the agent handler). */
  readonly kind: 'handler' | 'agent';

  constructor(scope: Construct, id: string, props: NightshiftFunctionProps) {
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
          command: ['nightshift-bundle', props.kind ?? 'handler', relative(process.cwd(), resolve(props.entry))],
          local: {
            tryBundle(outputDir) {
              bundle(props.kind === 'agent' ? agentEntry(props.entry) : props.entry, outputDir);
              return true;
            },
          },
        },
      }),
      handler: HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      environment: { ...props.environment, ...tracingVariables(props.tracing ?? false) },
      logGroup,
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
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
