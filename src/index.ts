/**
 * Nightshift's author API: what a pipeline config and an agent import, from the package's own name.
 *
 *   // nightshift.config.ts
 *   import { definePipeline } from 'nightshift';
 *   export default definePipeline({ name: 'newsroom', stage: 'dev', agents: [...], breaker: {...} });
 *
 *   // agents/scout.ts: an agent module exports its `work`; the id lives in the config alone
 *   import type { AgentContext } from 'nightshift';
 *   export async function work(ctx: AgentContext) { ... }
 *
 * Constructs for a CDK app are in `nightshift/cdk`; a harness that runs one agent locally, for its tests, is in
 * `nightshift/testing`.
 */
export { ConfigError, type AgentConfig, type PipelineConfig, type PipelineInput, definePipeline } from './config/pipeline.ts';
export { NightshiftError } from './errors.ts';
export { BreakerOpenError } from './runtime/breaker/breaker.ts';
export type { EmitResult } from './runtime/breaker/output-guard.ts';
export { LockLostError } from './runtime/locks.ts';
export type { MemoryEntry } from './runtime/memory/reader.ts';
export type { OmittedEntry, RetrievalRequest, RetrievedContext, RetrievedEntry } from './runtime/memory/retrieval.ts';
export { MemoryValueError, type EntryOptions, type MemoryChange, type RunMemory, type ValueSchema } from './runtime/memory/run-memory.ts';
export type { ModelResponse, ModelUsage } from './runtime/model/model.ts';
export type { RunModel } from './runtime/model/run-model.ts';
export type { AgentContext, AgentOutput, Degraded, EmittedOutput, RunOutcome } from './runtime/run-lifecycle.ts';
export type { Publisher, Publishers } from './runtime/run-context.ts';
export { type AgentWork, agentHandler } from '../lambdas/shared/agent-handler.ts';
