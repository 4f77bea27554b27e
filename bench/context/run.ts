import { randomUUID } from 'node:crypto';
import { NAMESPACE } from '../../src/config/namespaces.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { LocalPipeline } from '../../local/pipeline.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { InvalidUpdateError, type MemoryUpdate, parseUpdate } from '../../src/runtime/memory/update.ts';
import type { Workload } from './workload.ts';

export interface ContextFigures {
  /** Items the write path refused, with its reason: never stored, so never returned. */
  readonly refused: readonly string[];
  readonly tasks: number;
  /** Needed entries returned / needed entries, over all tasks. */
  readonly recall: number;
  /** Mean over tasks of 1 − tokens returned / tokens of every entry in the task's namespaces. */
  readonly cut: number;
  /** DynamoDB calls per retrieval. */
  readonly readsPerTask: number;
  readonly worst: readonly { task: string; missed: readonly string[] }[];
  /** Which half found each needed entry that was returned (pinned entries counted apart). */
  readonly foundBy: Readonly<Record<string, number>>;
  /** Seconds to apply every item through the queue and the steward, and (when on) the embedder's work after it. */
  readonly loadSeconds: number;
  /** Mean milliseconds of one retrieval. */
  readonly retrieveMs: number;
  /** The embedder's work: entries embedded, the tokens they cost (as Titan would count them, roughly). */
  readonly embedded: number;
  readonly embeddingTokens: number;
  /** Tokens embedding the queries cost, per task. */
  readonly queryTokensPerTask: number;
}

/**
 * Loads the workload's items through the product's write path (the memory client's SendMessageBatch to the FIFO
 * queue, the steward's handler fed by the event source into DynamoDB Local) and runs each task's retrieval through
 * `ContextRetriever`, the API behind `ctx.retrieve`.
 */
export async function runContextBench(workload: Workload, dynamoEndpoint: string, mode: { embeddings: boolean }): Promise<ContextFigures> {
  const clock = new ManualClock(Date.UTC(2026, 10, 25));
  // One agent, 'bench', that may write every namespace the workload names (a name the product refuses stays out,
  // and its items are refused below).
  const namespaces = [...new Set(workload.items.map((i) => i.namespace))].filter((n) => NAMESPACE.test(n));
  const pipeline = definePipeline({
    name: 'bench',
    stage: 'local',
    agents: [{ id: 'bench', entry: 'bench/context/run.ts', schedules: [{ cron: '0 3 * * *' }], breaker: { maxOutputs: 1, windowMinutes: 1 }, memory: { writes: namespaces } }],
    breaker: { maxOutputs: 1, windowMinutes: 1 },
    embeddings: mode.embeddings ? { dimensions: 512 } : false,
    // The workload's house rules are pinned: their namespaces are the pinnable ones.
    pinnable: [...new Set(workload.items.filter((i) => i.pinned).map((i) => i.namespace))].filter((n) => namespaces.includes(n)),
  });
  const local = await LocalPipeline.start({ pipeline, clock, dynamoEndpoint, tablePrefix: `bench-context-${randomUUID().slice(0, 8)}` });
  try {
    // What the write path refuses (a key it cannot store) is reported and counted as never returned: nothing is
    // bent to fit, and the run goes on with the rest.
    const updates: MemoryUpdate[] = [];
    const refused: string[] = [];
    workload.items.forEach((item, i) => {
      const update = { idempotencyId: `load-${i}`, agentId: 'bench', runId: 'bench-load', op: 'put' as const, namespace: item.namespace, key: item.key, value: item.text, tags: item.tags, pinned: item.pinned };
      try {
        updates.push(parseUpdate(update));
      } catch (error) {
        if (!(error instanceof InvalidUpdateError)) throw error;
        refused.push(`items.${i} ('${item.id}'): ${error.message}`);
      }
    });
    const loadStart = performance.now();
    for (let i = 0; i < updates.length; i += 50) {
      await local.memoryClientFor('bench').submit(updates.slice(i, i + 50));
      await clock.advance(1_000); // items written over time, so recency has something to say
      await local.settle(); // the steward's writes, and the embedder's vectors of them

    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const ledger = local.metrics;
    if (ledger.get('UpdatesApplied') !== updates.length) {
      throw new Error(`only ${ledger.get('UpdatesApplied')} of ${updates.length} items were applied (${ledger.get('UpdatesRejected')} rejected)`);
    }
    const idOf = new Map(workload.items.map((i) => [`${i.namespace}/${i.key}`, i.id]));
    const { retriever } = local;
    let needed = 0;
    let found = 0;
    let cutSum = 0;
    let reads = 0;
    const worst: { task: string; missed: string[] }[] = [];
    const foundBy: Record<string, number> = {};
    let retrieveMs = 0;
    let queryTokens = 0;
    for (const task of workload.tasks) {
      const started = performance.now();
      const context = await retriever.retrieve({ namespaces: task.namespaces, query: task.query, budgetTokens: task.budgetTokens });
      retrieveMs += performance.now() - started;
      queryTokens += context.embedding?.tokens ?? 0;
      const returned = new Set(context.entries.map((e) => idOf.get(`${e.namespace}/${e.key}`)));
      for (const e of context.entries) if (task.needed.includes(idOf.get(`${e.namespace}/${e.key}`)!)) foundBy[e.foundBy] = (foundBy[e.foundBy] ?? 0) + 1;
      const missed = task.needed.filter((id) => !returned.has(id));
      needed += task.needed.length;
      found += task.needed.length - missed.length;
      cutSum += context.tokensFull === 0 ? 1 : 1 - context.tokensLoaded / context.tokensFull;
      reads += context.storeCalls;
      if (missed.length > 0) worst.push({ task: task.id, missed });
    }
    const tasks = workload.tasks.length;
    return {
      refused,
      tasks,
      recall: needed === 0 ? 1 : found / needed,
      cut: cutSum / tasks,
      readsPerTask: reads / tasks,
      worst,
      foundBy,
      loadSeconds,
      retrieveMs: retrieveMs / tasks,
      embedded: ledger.get('EntriesEmbedded'),
      embeddingTokens: ledger.get('EmbeddingTokens'),
      queryTokensPerTask: queryTokens / tasks,
    };
  } finally {
    await local.stop();
  }
}

/** A figure line of `npm run bench -- context`: one for words only, one fused, on the same workload. */
export function contextLine(label: string, f: ContextFigures): string {
  const found = Object.entries(f.foundBy).sort().map(([k, v]) => `${k}:${v}`).join(',');
  return `context ${label}: tasks=${f.tasks} recall=${f.recall.toFixed(3)} cut=${f.cut.toFixed(3)} reads_per_task=${f.readsPerTask.toFixed(1)} retrieve_ms=${f.retrieveMs.toFixed(1)} found_by=${found}`;
}
