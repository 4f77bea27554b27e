#!/usr/bin/env -S npx tsx
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NightshiftStack } from '../lib/nightshift-stack';
import { loadPipeline } from '../src/config/load';
import { ConfigError } from '../src/config/pipeline';

const app = new App();
const configPath: string = app.node.tryGetContext('config') ?? 'nightshift.config.ts';
const pipeline = await loadPipeline(configPath).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`${configPath}: ${error.message}`);
  process.exit(1);
});

new NightshiftStack(app, `${pipeline.name}-${pipeline.stage}`, {
  pipeline,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
