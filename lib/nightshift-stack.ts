import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { NightshiftPipeline, type NightshiftPipelineProps } from './nightshift-pipeline.ts';

export interface NightshiftStackProps extends StackProps, NightshiftPipelineProps {}

/**
 * A stack holding one whole pipeline (`NightshiftPipeline`), named `<name>-<stage>` by `addNightshiftPipeline`. The
 * pipeline is its `Default` child, so every logical id is the one the stack had before the construct existed.
 */
export class NightshiftStack extends Stack {
  readonly pipeline: NightshiftPipeline;

  constructor(scope: Construct, id: string, props: NightshiftStackProps) {
    super(scope, id, props);
    this.pipeline = new NightshiftPipeline(this, 'Default', props);
  }

  get coordination() {
    return this.pipeline.coordination;
  }
  get memory() {
    return this.pipeline.memory;
  }
  get breaker() {
    return this.pipeline.breaker;
  }
  get schedules() {
    return this.pipeline.schedules;
  }
  get agents() {
    return this.pipeline.agents;
  }
  get breakerWatchdog() {
    return this.pipeline.breakerWatchdog;
  }
  get breakerAuthority() {
    return this.pipeline.breakerAuthority;
  }
  get monitoring() {
    return this.pipeline.monitoring;
  }
  get triggers() {
    return this.pipeline.triggers;
  }
  get watch() {
    return this.pipeline.watch;
  }
}
