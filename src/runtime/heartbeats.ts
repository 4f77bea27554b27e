import { conditionally } from './conditional.ts';
import { KEYS } from '../contract/tables.ts';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { UnreadableItemError, getAgentItem, parseAgentItem, storedInt, storedText } from './agent-items.ts';
import type { Clock } from './clock.ts';
import type { MetricsSink } from './metrics.ts';

/**
 * Agent heartbeats on the coordination table: the field report's `status/{agent_id}.heartbeat`. An agent beats
 * when a run starts, on a timer while it runs, and when it ends, with the run's outcome.
 *
 * Scheduled agents are idle between runs, so age alone cannot tell a dead agent from a quiet one. The rule: a
 * `running` beat older than the limit means the agent died mid-run (stale); a finished run stays the agent's state
 * until its next run (fresh if it succeeded, stale if it failed); no beat at all is `missing`.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed';

export interface Beat {
  readonly agentId: string;
  readonly runId: string;
  readonly status: RunStatus;
  /** Epoch ms. */
  readonly beatAt: number;
  readonly detail?: string;
}

export type UpstreamHealth =
  | { readonly state: 'fresh'; readonly ageMs: number; readonly beat: Beat }
  | { readonly state: 'stale'; readonly ageMs: number; readonly beat: Beat; readonly reason: string }
  | { readonly state: 'missing'; readonly reason: string };

/** The longest detail a beat carries or a reader quotes: a reason, not a payload. */
export const BEAT_DETAIL_MAX = 500;

/** A heartbeat as its agent wrote it, parsed as hostile input: bounded, and a stored number out of range is refused. */
const storedBeat = z.object({
  runId: storedText(200),
  status: z.enum(['running', 'succeeded', 'failed']),
  beatAt: storedInt(0, 8_640_000_000_000_000),
  detail: z.optional(storedText(BEAT_DETAIL_MAX)),
});

/** How long heartbeat items are kept after their last beat (TTL; clean-up only). */
const HEARTBEAT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

export interface HeartbeatsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: Clock;
  /** Counts `HeartbeatsSuperseded`: beats dropped because a later run had beaten already. @default - none */
  readonly metrics?: MetricsSink;
}

/** Which run a beat belongs to: its slot (the scheduled time) and the fencing token its lock carried. */
export interface RunOrder {
  readonly slot: string;
  readonly fencingToken: number;
}

export class Heartbeats {
  constructor(private readonly options: HeartbeatsOptions) {}

  private readonly beatsOfRun = new Map<string, number>();

  /**
   * Records a beat. Beats are ordered by run, not by the writer's clock: a later slot's run (or, for one slot, the
   * retry holding a higher fencing token) beats an earlier one's whatever the clocks say, and within a run a later
   * beat wins over one sent earlier. A beat of an earlier run is dropped, counted, and `false` returned. Without
   * `order` a beat is ordered by its own time. Store errors are thrown.
   */
  async beat(agentId: string, beat: { runId: string; status: RunStatus; detail?: string; order?: RunOrder }): Promise<boolean> {
    const beatAt = this.options.clock.now();
    const runOrder = `${beat.order?.slot ?? new Date(beatAt).toISOString()}#${String(beat.order?.fencingToken ?? 0).padStart(16, '0')}`;
    const seq = (this.beatsOfRun.get(beat.runId) ?? 0) + 1;
    this.beatsOfRun.set(beat.runId, seq);
    if (this.beatsOfRun.size > 1000) this.beatsOfRun.delete(this.beatsOfRun.keys().next().value!);
    const result = await conditionally(
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...heartbeatKey(agentId),
            agentId,
            runId: beat.runId,
            status: beat.status,
            beatAt,
            runOrder,
            seq,
            ...(beat.detail === undefined ? {} : { detail: beat.detail.length > BEAT_DETAIL_MAX ? `${beat.detail.slice(0, BEAT_DETAIL_MAX)}…` : beat.detail }),
            ttl: Math.ceil((beatAt + HEARTBEAT_RETENTION_MS) / 1000),
          },
          ConditionExpression:
            '(attribute_not_exists(runOrder) AND (attribute_not_exists(beatAt) OR beatAt <= :beatAt)) OR runOrder < :order OR (runOrder = :order AND (runId <> :run OR seq < :seq))',
          ExpressionAttributeValues: { ':beatAt': beatAt, ':order': runOrder, ':run': beat.runId, ':seq': seq },
        }),
      ),
    );
    // A later run's beat is already there: this one loses, counted.
    if (!result.ok) this.options.metrics?.count('HeartbeatsSuperseded');
    return result.ok;
  }

  /**
   * The last beat of an agent, or undefined. Strongly consistent. The item is the agent's own to write, so it is
   * parsed as hostile input: {@link UnreadableItemError} names what is wrong with it.
   */
  async last(agentId: string): Promise<Beat | undefined> {
    const item = await getAgentItem(this.options.client, this.options.tableName, heartbeatKey(agentId));
    if (!item) return undefined;
    const beat = parseAgentItem(storedBeat, item, `${agentId}'s heartbeat`);
    return { agentId, runId: beat.runId, status: beat.status, beatAt: beat.beatAt, ...(beat.detail === undefined ? {} : { detail: beat.detail }) };
  }

  /**
   * Decides whether a downstream agent can rely on `agentId`. Store errors are thrown, never reported as stale: a
   * failing store is not a dead upstream. A heartbeat that does not parse is no upstream to rely on: the downstream
   * runs degraded, saying why.
   */
  async checkUpstream(agentId: string, maxAgeMs: number): Promise<UpstreamHealth> {
    let beat: Beat | undefined;
    try {
      beat = await this.last(agentId);
    } catch (error) {
      if (error instanceof UnreadableItemError) return { state: 'missing', reason: error.message };
      throw error;
    }
    if (!beat) return { state: 'missing', reason: `${agentId} has never reported a heartbeat` };
    const ageMs = Math.max(0, this.options.clock.now() - beat.beatAt);
    if (beat.status === 'running' && ageMs > maxAgeMs) {
      return {
        state: 'stale',
        ageMs,
        beat,
        reason: `${agentId} last beat ${formatAge(ageMs)} ago while running (limit ${formatAge(maxAgeMs)})`,
      };
    }
    if (beat.status === 'failed') {
      return { state: 'stale', ageMs, beat, reason: `${agentId}'s last run failed${beat.detail ? `: ${beat.detail}` : ''}` };
    }
    return { state: 'fresh', ageMs, beat };
  }
}

const heartbeatKey = KEYS.coordination.heartbeat;

function formatAge(ms: number): string {
  const minutes = ms / 60_000;
  return minutes >= 1 ? `${Math.round(minutes * 10) / 10} min` : `${Math.round(ms / 1000)} s`;
}
