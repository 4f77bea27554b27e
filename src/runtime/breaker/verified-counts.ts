import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';
import type { Clock } from '../clock.ts';
import { bucketWidth, countInBucket, minuteOf, staleBuckets, windowOf } from './window-buckets.ts';

/** Output ids an agent's count keeps for the trip alert: the last few, not the count's storage. */
export const RECENT_OUTPUT_IDS = 3;

/** One output counted in its agent's window, as the breaker function keeps it. */
export interface VerifiedCount {
  /** The agent's outputs in its window, this one included. */
  readonly count: number;
  /**
   * This output's place among every output of the agent ever counted: strictly increasing in the order the counting
   * updates were applied (a trip records the tripping output's, see `Trip.outputSequence`).
   */
  readonly sequence: number;
  /** Up to {@link RECENT_OUTPUT_IDS} of the agent's latest output ids (the first 32 characters of each), newest last. */
  readonly recentOutputIds: readonly string[];
}

/**
 * Each agent's outputs as the breaker function counts them, on `verified#<agent>` (one item per agent, in buckets of
 * the counting epoch, see `window-buckets.ts`): items no agent role may write. One UpdateItem per output both counts
 * it and orders it among the agent's outputs, so of any number of concurrent emits exactly N are within a limit N.
 * The item holds the window's buckets, the sequence and a few recent ids: about 1 KB however many outputs the window
 * counts. A trip reads every agent's to name the one with the most.
 */
export class VerifiedCounts {
  /** Per agent, buckets the last count saw as stale: removed by the next. */
  private readonly stale = new Map<string, string[]>();
  /** Per agent, the recent-id slot this process wrote last. */
  private readonly slots = new Map<string, number>();

  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock }) {}

  /** Counts one output of `agentId` in its window of `windowMinutes`. */
  async count(agentId: string, epoch: number, windowMinutes: number, outputId: string): Promise<VerifiedCount> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    // The recent ids are a ring of slots this process writes in turn; another instance may overwrite one: an alert
    // then shows fewer, never a wrong one (each slot says when it was written).
    const slot = ((this.slots.get(agentId) ?? -1) + 1) % RECENT_OUTPUT_IDS;
    this.slots.set(agentId, slot);
    const item = await countInBucket(
      client,
      { tableName, key: KEYS.counters.verified(agentId) },
      { epoch, now, width: bucketWidth(windowMinutes), stale: this.stale.get(agentId) ?? [], alsoAdd: ['sequence'], set: { [`r${slot}`]: `${now}|${shortId(outputId)}` } },
    );
    this.stale.set(agentId, staleBuckets(item, epoch, minuteOf(now), windowMinutes));
    return { count: windowOf(item, epoch, minuteOf(now), windowMinutes), sequence: item.sequence as number, recentOutputIds: recentIds(item) };
  }

  /** Of `windows` (agent → its window's minutes), the agent with the most outputs in its window (read on a trip only). */
  async top(windows: Readonly<Record<string, number>>, epoch: number): Promise<{ agentId: string; count: number } | undefined> {
    const { client, tableName, clock } = this.options;
    const minute = minuteOf(clock.now());
    const counts = await Promise.all(
      Object.entries(windows).map(async ([agentId, windowMinutes]) => {
        const { Item = {} } = await client.send(new GetCommand({ TableName: tableName, Key: KEYS.counters.verified(agentId), ConsistentRead: true }));
        return { agentId, count: windowOf(Item, epoch, minute, windowMinutes) };
      }),
    );
    return counts.reduce<{ agentId: string; count: number } | undefined>((best, next) => (next.count > (best?.count ?? 0) ? next : best), undefined);
  }
}

/** Output ids up to 200 characters are kept as their first 32 (and `…`): the item stays under 1 KB, one write unit. */
function shortId(outputId: string): string {
  return outputId.length > 32 ? `${outputId.slice(0, 32)}…` : outputId;
}

function recentIds(item: Record<string, unknown>): string[] {
  return Array.from({ length: RECENT_OUTPUT_IDS }, (_, i) => item[`r${i}`])
    .filter((value): value is string => typeof value === 'string' && value.includes('|'))
    .map((value) => ({ at: Number(value.slice(0, value.indexOf('|'))), id: value.slice(value.indexOf('|') + 1) }))
    .sort((a, b) => a.at - b.at)
    .map((entry) => entry.id);
}
