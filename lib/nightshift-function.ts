import { Duration, RemovalPolicy, aws_iam as iam, aws_lambda as lambda, aws_lambda_nodejs as nodejs, aws_logs as logs } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

export interface NightshiftFunctionProps {
  /** Handler file; its `handler` export is the entry point. */
  readonly entry: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default - none */
  readonly environment?: Record<string, string>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Node.js Lambda function with Nightshift's defaults: arm64, Node.js 24, its own log group with a retention, and
 * an execution role that may write only its own logs, and an esbuild bundle that includes the AWS SDK clients (so the versions we test against are the ones that run,
 * rather than whatever the Lambda runtime ships). Bundling uses the locally installed esbuild: no Docker.
 */
export class NightshiftFunction extends nodejs.NodejsFunction {
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
      entry: props.entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      logGroup,
      bundling: {
        bundleAwsSDK: true,
        externalModules: [],
        sourceMap: true,
        minify: true,
        target: 'node24',
      },
    });
  }
}
