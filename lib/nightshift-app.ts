import { InvalidPropsError } from '../src/errors.ts';
import type { App } from 'aws-cdk-lib';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { NightshiftStack } from './nightshift-stack.ts';

/**
 * Adds one pipeline to a CDK app: a `NightshiftStack` named `<name>-<stage>`, checked by cdk-nag's AwsSolutions and
 * Serverless packs at synth (a finding fails the synth unless acknowledged with a reason).
 */
export function addNightshiftPipeline(app: App, pipeline: PipelineConfig): NightshiftStack {
  // `-c modelProvider=offline`: agents answer without calling Bedrock (`npm run deploy:localstack` sets it).
  const modelProvider = app.node.tryGetContext('modelProvider') as string | undefined;
  if (modelProvider !== undefined && modelProvider !== 'bedrock' && modelProvider !== 'offline') {
    throw new InvalidPropsError(`context modelProvider must be 'bedrock' or 'offline'; got '${modelProvider}'`);
  }
  const stack = new NightshiftStack(app, `${pipeline.name}-${pipeline.stage}`, {
    pipeline,
    ...(modelProvider ? { modelProvider } : {}),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  return stack;
}
