import { KEYS } from '../contract/tables.ts';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { UnreadableItemError, parseAgentItem, queryAgentItems, storedInt, storedText, storedTime } from './agent-items.ts';
import type { Clock } from './clock.ts';
import type { RunOutcome } from './run-lifecycle.ts';

/** One run of an agent as `nightshift runs` lists it. */
export interface RunEntry {
  readonly agentId: string;
  /** `<agentId>@<scheduled time, ISO>`: the task lock the run held. */
  readonly taskId: string;
  readonly status: 'completed' | 'skipped' | 'halted' | 'failed';
  /** ISO times. */
  readonly startedAt: string;
  readonly endedAt: string;
  /** Why the run went ahead degraded, or why it was skipped, halted or failed. */
  readonly detail?: string;
  readonly degraded: boolean;
  readonly published: number;
  readonly suppressed: number;
  /** Outputs held for review. @default 0 (records from before reviews) */
  readonly held?: number;
  readonly tokens: { readonly input: number; readonly output: number; readonly cacheRead: number; readonly calls: number };
  /** What started it (`describeTrigger`): `schedule`, `output <id> of <agent>`, `event <source> / <type> (<id>)`. */
  readonly trigger?: string;
  /** The run's id, when it got as far as taking its lock. */
  readonly runId?: string;
  /** For a replay: the task id of the run it ran again. */
  readonly replayOf?: string;
  /**
   * What invoked it, as it came (Scheduler's input or the event), for `nightshift replay`; left out when larger
   * than {@link MAX_KEPT_INVOCATION_BYTES}. Its agent wrote it: a replay hands it back to that agent, which parses it
   * as any invocation.
   */
  readonly invocation?: unknown;
}

/** The most runs of one agent `RunHistory.since` reads. */
export const SINCE_MAX = 1_000;

/** The largest invocation a run record keeps for a replay (an output's event can be up to 256 KB). */
export const MAX_KEPT_INVOCATION_BYTES = 64 * 1024;

const DAY = 86_400_000;

/** How far ahead of the reader's clock a stored run's times may be: writers' clocks disagree, not by more. */
export const RUN_TIME_SKEW_MS = 5 * 60_000;

/** A run record as its agent's role wrote it, parsed as hostile input: bounded, and dated no later than now + skew. */
function storedRun(agentId: string, now: () => number) {
  const time = storedTime(() => 0, () => now() + RUN_TIME_SKEW_MS);
  const count = storedInt(0, 1_000_000_000_000_000);
  return z.object({
    agentId: z.literal(agentId),
    taskId: storedText(300),
    status: z.enum(['completed', 'skipped', 'halted', 'failed']),
    startedAt: time,
    endedAt: time,
    detail: z.optional(storedText(500)),
    degraded: z.boolean(),
    published: count,
    suppressed: count,
    held: z.optional(count),
    tokens: z.object({ input: count, output: count, cacheRead: count, calls: count }),
    trigger: z.optional(storedText(300)),
    runId: z.optional(storedText(200)),
    replayOf: z.optional(storedText(300)),
    invocation: z.optional(z.pipe(z.unknown(), z.transform(unwrapNumbers))),
  });
}

/** A stored value read with wrapped numbers, as plain JSON again: safe integers and finite numbers as numbers. */
function unwrapNumbers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapNumbers);
  if (value instanceof Set) return [...value].map(unwrapNumbers);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === 'value' && typeof (value as { value: unknown }).value === 'string' && !(value.constructor === Object)) {
      const n = Number((value as { value: string }).value);
      return Number.isFinite(n) ? n : (value as { value: string }).value;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapNumbers(v)]));
  }
  return value;
}

/**
 * Each run's outcome, kept on the coordination table (`KEYS.coordination.run`) for
 * `retentionDays` (a TTL attribute for clean-up; listing filters nothing out, it only shows the newest). One
 * PutItem per run, written by the Lambda adapter after the guard finished, so local mode records them the same way.
 */
export class RunHistory {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock; retentionDays?: number }) {}

  /** The entry for a run that ended with `outcome`, or that threw `error`. */
  static entry(
    agentId: string,
    taskId: string,
    startedAt: number,
    endedAt: number,
    result: { outcome: RunOutcome<unknown> } | { error: unknown },
    trigger?: string,
    invoked?: { readonly event: unknown; readonly replayOf?: string | undefined },
  ): RunEntry {
    // What an upstream or a sender chose (a trigger's ids, its reasons) is kept bounded, as readers bound it again.
    const kept = invoked && JSON.stringify(invoked.event ?? null).length <= MAX_KEPT_INVOCATION_BYTES ? { invocation: invoked.event } : {};
    const base = {
      agentId,
      taskId,
      startedAt: new Date(startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      ...(trigger ? { trigger: trigger.slice(0, 300) } : {}),
      ...(invoked?.replayOf ? { replayOf: invoked.replayOf } : {}),
      ...kept,
    };
    const none = { input: 0, output: 0, cacheRead: 0, calls: 0 };
    if ('error' in result) {
      const message = result.error instanceof Error ? result.error.message : String(result.error);
      return { ...base, status: 'failed', detail: message.slice(0, 500), degraded: false, published: 0, suppressed: 0, tokens: none };
    }
    const { outcome } = result;
    const outputs = outcome.status === 'skipped' ? [] : outcome.outputs;
    const usage = outcome.status === 'skipped' ? undefined : outcome.modelUsage;
    const detail = outcome.status === 'completed' ? outcome.degraded?.reasons.join('; ') : outcome.status === 'skipped' ? outcome.detail : outcome.reason;
    return {
      ...base,
      ...(outcome.status === 'skipped' ? {} : { runId: outcome.runId }),
      status: outcome.status,
      ...(detail ? { detail: detail.slice(0, 500) } : {}),
      degraded: outcome.status === 'completed' && outcome.degraded !== undefined,
      published: outputs.filter((o) => o.published).length,
      suppressed: outputs.filter((o) => !o.published && !o.held).length,
      ...(outputs.some((o) => o.held) ? { held: outputs.filter((o) => o.held).length } : {}),
      tokens: usage ? { input: usage.inputTokens, output: usage.outputTokens, cacheRead: usage.cacheReadTokens, calls: usage.calls } : none,
    };
  }

  async record(entry: RunEntry): Promise<void> {
    const { client, tableName, clock, retentionDays = 30 } = this.options;
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...KEYS.coordination.run(entry.agentId, entry.startedAt, entry.taskId), ...entry, ttl: Math.ceil((clock.now() + retentionDays * DAY) / 1000) },
      }),
    );
  }

  /**
   * Each agent's runs that started at or after `since` (ISO), oldest first, at most {@link SINCE_MAX} per agent: what
   * `nightshift replay --failed|--refused --since` chooses from. Parsed as hostile input, as {@link list} does.
   */
  async since(agentIds: readonly string[], since: string, onUnreadable?: (agentId: string, error: UnreadableItemError) => void): Promise<RunEntry[]> {
    const { client, tableName, clock } = this.options;
    const runs: RunEntry[] = [];
    for (const agentId of agentIds) {
      const schema = storedRun(agentId, () => clock.now());
      const items = await queryAgentItems(client, {
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND sk >= :since',
        values: { ':pk': KEYS.coordination.runsPartition(agentId), ':since': since },
        Limit: SINCE_MAX,
      });
      for (const { pk: _pk, sk, ttl: _ttl, ...entry } of items) {
        try {
          runs.push(parseAgentItem(schema, entry, `${agentId}'s run record ${String(sk).slice(0, 100)}`) as RunEntry);
        } catch (error) {
          if (!(error instanceof UnreadableItemError)) throw error;
          onUnreadable?.(agentId, error);
        }
      }
    }
    return runs.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
  }

  /**
   * The newest `limit` runs of each agent, newest first, merged. Each agent writes its own records, so each is parsed
   * as hostile input: one that does not parse (a number out of range, a wrong type, a time past now plus
   * {@link RUN_TIME_SKEW_MS}, another agent's id) is left out and reported to `onUnreadable`, never thrown.
   */
  async list(agentIds: readonly string[], limit = 20, onUnreadable?: (agentId: string, error: UnreadableItemError) => void): Promise<RunEntry[]> {
    const { client, tableName, clock } = this.options;
    const pages = await Promise.all(
      agentIds.map(async (agentId) => {
        const items = await queryAgentItems(client, {
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          values: { ':pk': KEYS.coordination.runsPartition(agentId) },
          ScanIndexForward: false,
          Limit: limit,
        });
        const schema = storedRun(agentId, () => clock.now());
        return items.flatMap(({ pk: _pk, sk, ttl: _ttl, ...entry }) => {
          try {
            return [parseAgentItem(schema, entry, `${agentId}'s run record ${String(sk).slice(0, 100)}`) as RunEntry];
          } catch (error) {
            if (!(error instanceof UnreadableItemError)) throw error;
            onUnreadable?.(agentId, error);
            return [];
          }
        });
      }),
    );
    return pages
      .flat()
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
      .slice(0, limit);
  }
}
