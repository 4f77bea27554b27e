import type { App } from 'aws-cdk-lib';
import { loadPipeline } from '../src/config/load.ts';
import { ConfigError } from '../src/config/pipeline.ts';
import type { NightshiftStack } from './nightshift-stack.ts';

/**
 * The CDK app of a project with one pipeline: its config read from the file `-c config=<file>` names (default
 * `nightshift.config.ts`, from the project's root), its stack added with `addNightshiftPipeline`. A config that does
 * not validate ends the synth with one line per problem, naming the file, and no stack trace.
 *
 *   // bin/app.ts
 *   import { App } from 'aws-cdk-lib';
 *   import { pipelineApp } from 'nightshift/cdk';
 *   await pipelineApp(new App());
 */
export async function pipelineApp(app: App): Promise<NightshiftStack> {
  const path: string = app.node.tryGetContext('config') ?? 'nightshift.config.ts';
  try {
    const pipeline = await loadPipeline(path);
    // The constructs load once the config is known to be good: a config error is reported without waiting for them.
    const { addNightshiftPipeline } = await import('./nightshift-app.ts');
    return addNightshiftPipeline(app, pipeline); // checks each agent's entry before anything bundles
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${path}: ${error.message}\n`);
    process.exit(1);
  }
}
