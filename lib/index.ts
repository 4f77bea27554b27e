/**
 * Nightshift's CDK constructs (`nightshift/cdk`): a whole pipeline from its config with `addNightshiftPipeline`, or
 * the parts (`NightshiftStack`, `Agent`, `MemoryStore`, `CircuitBreaker`, ...) to compose your own.
 *
 *   // bin/app.ts
 *   import { App, addNightshiftPipeline } from 'nightshift/cdk';
 *   import pipeline from '../nightshift.config.ts';
 *   addNightshiftPipeline(new App(), pipeline);
 */
// The CDK app class, from the same aws-cdk-lib the constructs use (two copies of aws-cdk-lib in one app misbehave).
export { App } from 'aws-cdk-lib';
export { addNightshiftPipeline } from './nightshift-app.ts';
export { NightshiftStack, type NightshiftStackProps } from './nightshift-stack.ts';
export { Agent, type AgentProps } from './agent.ts';
export { CircuitBreaker, type CircuitBreakerProps } from './circuit-breaker.ts';
export { CoordinationTable, type CoordinationTableProps } from './coordination-table.ts';
export { MemoryStore, type MemoryStoreProps } from './memory-store.ts';
export { NightshiftFunction, type NightshiftFunctionProps } from './nightshift-function.ts';
export { PipelineMonitoring, type PipelineMonitoringProps } from './pipeline-monitoring.ts';
export { PipelineSchedules, type PipelineSchedulesProps } from './pipeline-schedules.ts';
