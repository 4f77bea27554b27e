import { randomUUID } from 'node:crypto';
import { UnknownNameError } from '../src/errors.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { ManualClock } from '../src/runtime/clock.ts';
import type { MemoryReader } from '../src/runtime/memory/reader.ts';
import type { AgentContext, EmittedOutput, RunOutcome } from '../src/runtime/run-lifecycle.ts';
import { LocalPipeline } from './pipeline.ts';

/**
 * Runs one agent once, the way local mode does, for the agent's own tests: its work inside the real guard and
 * handler, over DynamoDB Local (started in memory, or the one at `dynamoEndpoint`) and the local SQS, the steward
 * applying what it submitted. Nothing is mocked; the model is the offline provider.
 *
 *   const run = await runAgentOnce(pipeline, 'scout', work, { memory: [{ namespace: 'notes', key: 'x', value: 1 }] });
 *   try { expect(run.outcome.status).toBe('completed') } finally { await run.stop() }
 */
export interface AgentTestOptions {
  /** The slot the run is for. @default 2026-11-25T06:00:00Z */
  readonly at?: string;
  /** Memory to put in place before the run, each entry submitted as the agent that writes its namespace. */
  readonly memory?: readonly { readonly namespace: string; readonly key: string; readonly value: unknown }[];
  /**
   * A DynamoDB Local already running (tables get a fresh prefix). @default - `NIGHTSHIFT_DYNAMODB_ENDPOINT` if set,
   * else one is started for this run and stopped by `stop()`
   */
  readonly dynamoEndpoint?: string;
}

export interface AgentTestRun<R> {
  readonly outcome: RunOutcome<R>;
  /** Memory as the steward left it after the run. */
  readonly memory: MemoryReader;
  /** Every output the run emitted, published or suppressed. */
  readonly outputs: readonly EmittedOutput[];
  stop(): Promise<void>;
}

export async function runAgentOnce<R>(
  pipeline: PipelineConfig,
  agentId: string,
  work: (ctx: AgentContext) => Promise<R>,
  options: AgentTestOptions = {},
): Promise<AgentTestRun<R>> {
  if (!pipeline.agents.some((a) => a.id === agentId)) {
    throw new UnknownNameError(`runAgentOnce: no agent '${agentId}' in pipeline '${pipeline.name}' (it has: ${pipeline.agents.map((a) => a.id).join(', ')})`);
  }
  const at = options.at ?? '2026-11-25T06:00:00Z';
  const clock = new ManualClock(Date.parse(at));
  const dynamoEndpoint = options.dynamoEndpoint ?? process.env.NIGHTSHIFT_DYNAMODB_ENDPOINT;
  const local = await LocalPipeline.start({
    pipeline,
    clock,
    ...(dynamoEndpoint ? { dynamoEndpoint, tablePrefix: `test-${agentId}-${randomUUID().slice(0, 8)}` } : {}),
  });
  try {
    // Seeded as the agent that writes each namespace would write it, so the steward checks it like any update.
    for (const [i, entry] of (options.memory ?? []).entries()) {
      const writer = pipeline.agents.find((a) => a.memory.writes.includes(entry.namespace));
      if (!writer) throw new UnknownNameError(`runAgentOnce: no agent in '${pipeline.name}' writes namespace '${entry.namespace}'; add it to one agent's memory.writes`);
      await local.memoryClientFor(writer.id).submit([{ ...entry, op: 'put', agentId: writer.id, runId: 'seed', idempotencyId: `seed:${i}` }]);
    }
    await local.settle();
    const outcome = (await local.handler(agentId, work)({ agentId, scheduledTime: at })) as RunOutcome<R>;
    await local.settle();
    return {
      outcome,
      memory: local.reader,
      outputs: 'outputs' in outcome ? outcome.outputs : [],
      stop: () => local.stop(),
    };
  } catch (error) {
    await local.stop();
    throw error;
  }
}
