import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';
import type { Clock } from '../clock.ts';
import type { Trigger } from '../invocation.ts';

/**
 * Causality for runs started by another agent's output: the output's event says which memory updates the upstream's
 * run had queued when it published it, the steward keeps a receipt of each update it settles for an agent others
 * run on (`KEYS.memory.receipts`, which only the steward writes), and the triggered run waits, bounded, until every
 * one of them is settled (applied, a duplicate, or rejected) before its work starts. Past the bound it runs degraded,
 * saying how many are pending: never hung, never silently stale.
 */
export class MemoryReceipts {
  constructor(private readonly options: { readonly client: DynamoDBDocumentClient; readonly tableName: string }) {}

  /** The ids settled, and of those rejected, of one run's updates (strongly consistent: the steward just wrote it). */
  async of(agentId: string, runId: string): Promise<{ settled: ReadonlySet<string>; rejected: ReadonlySet<string> }> {
    const { Item } = await this.options.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: KEYS.memory.receipts(agentId, runId), ConsistentRead: true, ProjectionExpression: 'settled, rejected' }),
    );
    return { settled: stringSet(Item?.settled), rejected: stringSet(Item?.rejected) };
  }
}

function stringSet(value: unknown): ReadonlySet<string> {
  return value instanceof Set ? new Set([...value].filter((v): v is string => typeof v === 'string')) : new Set();
}

/** What a triggered run found of its upstream's memory before it started. */
export interface MemoryWait {
  /** The upstream agent and its run. */
  readonly from: string;
  readonly runId: string;
  /** How many updates the output's event said the run had queued. */
  readonly awaited: number;
  /** Of those, how many the steward had not settled when the wait ended. */
  readonly pending: number;
  /** Of those settled, how many it rejected (the run sees memory without them). */
  readonly rejected: number;
  /** How long the run waited before its work started. */
  readonly waitedMs: number;
  /** Why the run is degraded, when anything was pending. */
  readonly reason?: string;
}

export interface MemoryWaitDeps {
  readonly receipts: MemoryReceipts;
  readonly clock: Clock;
  /** Waits between two reads: real time in Lambda; local mode lets its steward work meanwhile. */
  readonly pause: (ms: number) => Promise<void>;
}

/**
 * The most updates of one upstream run a triggered run waits for. The count comes from the upstream's event, which
 * its agent wrote: a run past it is not checked update by update (its ids alone could fill the function's memory),
 * it runs degraded, saying so.
 */
export const MAX_VERIFIED_UPDATES = 10_000;

/** First pause between reads; each next one doubles, up to {@link MAX_PAUSE_MS}. */
const FIRST_PAUSE_MS = 200;
const MAX_PAUSE_MS = 5_000;

/**
 * Waits until the steward has settled every update the upstream's run had queued before the output that started
 * this run, for at most `boundMs`. Never throws: a receipt that cannot be read counts as pending, with the error.
 */
export async function awaitUpstreamMemory(deps: MemoryWaitDeps, trigger: Extract<Trigger, { kind: 'output' }>, boundMs: number): Promise<MemoryWait | undefined> {
  const memory = trigger.memory;
  if (!memory || memory.submitted === 0) return undefined;
  if (memory.submitted > MAX_VERIFIED_UPDATES) {
    const reason = `${trigger.from}'s run ${trigger.runId} says it queued ${memory.submitted} memory updates, more than the ${MAX_VERIFIED_UPDATES} a run waits for: not checked`;
    return { from: trigger.from, runId: trigger.runId, awaited: memory.submitted, pending: memory.submitted, rejected: 0, waitedMs: 0, reason };
  }
  const unsent = new Set(memory.unsent);
  const awaited: string[] = [];
  for (let n = 0; n < memory.submitted; n++) if (!unsent.has(n)) awaited.push(`${trigger.runId}:${n}`);
  if (awaited.length === 0) return undefined;
  const started = deps.clock.now();
  const base = { from: trigger.from, runId: trigger.runId, awaited: awaited.length };
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    let pending: number;
    let rejected = 0;
    let error: string | undefined;
    try {
      const receipt = await deps.receipts.of(trigger.from, trigger.runId);
      pending = awaited.filter((id) => !receipt.settled.has(id)).length;
      rejected = awaited.filter((id) => receipt.rejected.has(id)).length;
    } catch (caught) {
      pending = awaited.length;
      error = caught instanceof Error ? `${caught.name}: ${caught.message}`.slice(0, 200) : String(caught);
    }
    const waitedMs = deps.clock.now() - started;
    if (pending === 0) return { ...base, pending, rejected, waitedMs };
    const left = boundMs - waitedMs;
    if (left <= 0) {
      const why = error ? `its receipts could not be read (${error})` : 'the steward is behind or down';
      return {
        ...base,
        pending,
        rejected,
        waitedMs,
        reason: `${pending} of ${awaited.length} memory updates of ${trigger.from}'s run ${trigger.runId} not applied after ${Math.round(waitedMs / 1000)} s: ${why}`,
      };
    }
    await deps.pause(Math.min(pause, left));
  }
}
