#!/usr/bin/env -S npx tsx
import { App } from 'aws-cdk-lib';
import { loadPipeline } from '../src/config/load.ts';
import { ConfigError } from '../src/config/pipeline.ts';

const app = new App();
const path: string = app.node.tryGetContext('config') ?? 'nightshift.config.ts';
const refuse = (error: unknown): never => {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`${path}: ${error.message}`);
  process.exit(1);
};
const pipeline = await loadPipeline(path).catch(refuse);
// The constructs load once the config is known to be good: a config error is reported without waiting for them.
const { addNightshiftPipeline } = await import('../lib/nightshift-app.ts');
try {
  addNightshiftPipeline(app, pipeline); // checks each agent's entry before anything bundles
} catch (error) {
  refuse(error);
}
