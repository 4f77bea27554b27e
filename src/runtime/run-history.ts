import { KEYS } from '../contract/tables.ts';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
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
  readonly tokens: { readonly input: number; readonly output: number; readonly cacheRead: number; readonly calls: number };
  /** What started it (`describeTrigger`): `schedule`, `output <id> of <agent>`, `event <source> / <type> (<id>)`. */
  readonly trigger?: string;
}

const DAY = 86_400_000;

/**
 * Each run's outcome, kept on the coordination table (`KEYS.coordination.run`) for
 * `retentionDays` (a TTL attribute for clean-up; listing filters nothing out, it only shows the newest). One
 * PutItem per run, written by the Lambda adapter after the guard finished, so local mode records them the same way.
 */
export class RunHistory {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock; retentionDays?: number }) {}

  /** The entry for a run that ended with `outcome`, or that threw `error`. */
  static entry(agentId: string, taskId: string, startedAt: number, endedAt: number, result: { outcome: RunOutcome<unknown> } | { error: unknown }, trigger?: string): RunEntry {
    const base = { agentId, taskId, startedAt: new Date(startedAt).toISOString(), endedAt: new Date(endedAt).toISOString(), ...(trigger ? { trigger } : {}) };
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
      status: outcome.status,
      ...(detail ? { detail } : {}),
      degraded: outcome.status === 'completed' && outcome.degraded !== undefined,
      published: outputs.filter((o) => o.published).length,
      suppressed: outputs.filter((o) => !o.published).length,
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

  /** The newest `limit` runs of each agent, newest first, merged. */
  async list(agentIds: readonly string[], limit = 20): Promise<RunEntry[]> {
    const pages = await Promise.all(
      agentIds.map(async (agentId) => {
        const { Items = [] } = await this.options.client.send(
          new QueryCommand({
            TableName: this.options.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': KEYS.coordination.runsPartition(agentId) },
            ScanIndexForward: false,
            Limit: limit,
          }),
        );
        return Items.map(({ pk: _pk, sk: _sk, ttl: _ttl, ...entry }) => entry as RunEntry);
      }),
    );
    return pages
      .flat()
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
      .slice(0, limit);
  }
}
