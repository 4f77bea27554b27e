/**
 * Nightshift's CDK constructs (`nightshift/cdk`): a whole pipeline from its config, in a stack of its own
 * (`addNightshiftPipeline`) or in any stack you have (`NightshiftPipeline`), or the parts (`Agent`, `MemoryStore`,
 * `CircuitBreaker`, ...) to compose your own. aws-cdk-lib and constructs are the app's own (peer dependencies).
 *
 *   // bin/app.ts
 *   import { App } from 'aws-cdk-lib';
 *   import { addNightshiftPipeline } from 'nightshift/cdk';
 *   import pipeline from '../nightshift.config';
 *   addNightshiftPipeline(new App(), pipeline);
 *
 *   // or, in a stack you already have
 *   new NightshiftPipeline(this, 'Pipeline', { pipeline });
 */
export { addNightshiftPipeline } from './nightshift-app.ts';
export { NightshiftStack, type NightshiftStackProps } from './nightshift-stack.ts';
export { NightshiftPipeline, type NightshiftPipelineProps } from './nightshift-pipeline.ts';
export { BreakerAuthority, type BreakerAuthorityProps } from './breaker-authority.ts';
export { loadPipeline } from '../src/config/load.ts';
export { pipelineApp } from './pipeline-app.ts';
export { Agent, type AgentProps } from './agent.ts';
export { CircuitBreaker, type CircuitBreakerProps } from './circuit-breaker.ts';
export { CoordinationTable, type CoordinationTableProps } from './coordination-table.ts';
export { MemoryStore, type MemoryStoreProps } from './memory-store.ts';
export { NightshiftFunction, type NightshiftFunctionProps, newestNodeRuntime } from './nightshift-function.ts';
export { PipelineMonitoring, type PipelineMonitoringProps } from './pipeline-monitoring.ts';
export { PipelineSchedules, type PipelineSchedulesProps } from './pipeline-schedules.ts';
