import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from './clock';

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

/** How long heartbeat items are kept after their last beat (TTL; clean-up only). */
const HEARTBEAT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

export interface HeartbeatsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: Clock;
}

export class Heartbeats {
  constructor(private readonly options: HeartbeatsOptions) {}

  /**
   * Records a beat. A beat older than the one stored (a late write from an earlier run) is dropped and `false`
   * returned: the stored state is newer. Store errors are thrown.
   */
  async beat(agentId: string, beat: { runId: string; status: RunStatus; detail?: string }): Promise<boolean> {
    const beatAt = this.options.clock.now();
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...heartbeatKey(agentId),
            agentId,
            runId: beat.runId,
            status: beat.status,
            beatAt,
            ...(beat.detail === undefined ? {} : { detail: beat.detail }),
            ttl: Math.ceil((beatAt + HEARTBEAT_RETENTION_MS) / 1000),
          },
          ConditionExpression: 'attribute_not_exists(beatAt) OR beatAt <= :beatAt',
          ExpressionAttributeValues: { ':beatAt': beatAt },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The last beat of an agent, or undefined. Strongly consistent. */
  async last(agentId: string): Promise<Beat | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: heartbeatKey(agentId), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return { agentId, runId: Item.runId, status: Item.status, beatAt: Item.beatAt, detail: Item.detail };
  }

  /**
   * Decides whether a downstream agent can rely on `agentId`. Store errors are thrown, never reported as stale: a
   * failing store is not a dead upstream.
   */
  async checkUpstream(agentId: string, maxAgeMs: number): Promise<UpstreamHealth> {
    const beat = await this.last(agentId);
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

function heartbeatKey(agentId: string) {
  return { pk: `heartbeat#${agentId}`, sk: 'heartbeat' };
}

function formatAge(ms: number): string {
  const minutes = ms / 60_000;
  return minutes >= 1 ? `${Math.round(minutes * 10) / 10} min` : `${Math.round(ms / 1000)} s`;
}
