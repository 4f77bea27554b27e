import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { KEYS } from '../../contract/tables.ts';

/**
 * The breaker's state as its item holds it, and what an agent may ask of the breaker (`BreakerPort`): the `Breaker`
 * (privileged code) and an agent's `RemoteBreaker` both answer it.
 */

export type BreakerStatus = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export type TripReason = 'outputs' | 'pipeline-outputs' | 'budget';

export interface BreakerState {
  readonly status: BreakerStatus;
  /** Epoch ms of the last transition. */
  readonly since?: number;
  /** Counting epoch: bumped by every reset. */
  readonly epoch: number;
  readonly reason?: TripReason;
  readonly agentId?: string;
  readonly detail?: string;
  readonly trips: number;
  /** Schedules the trip disabled, which reset re-enables. */
  readonly restoreSchedules: readonly string[];
  readonly probeRunId?: string;
  /** For a trip by an agent's own window: the tripping output's sequence (outputs counted before it may publish). */
  readonly tripSequence?: number;
  /** When an operator last reset the breaker by hand (`breaker reset`). */
  readonly resetAt?: number;
}

export interface Trip {
  readonly reason: TripReason;
  readonly agentId: string;
  readonly detail: string;
  readonly recentOutputIds?: readonly string[];
  /**
   * With reason `outputs`: the sequence number the agent's window gave the tripping output. The agent's outputs
   * its window counted before it (within its limit) are still admitted after the trip; nothing counted after is.
   */
  readonly outputSequence?: number;
  /**
   * The counting epoch the tripping output was counted in: the trip is made only if it is still current (a reset
   * since then started the windows afresh, so the count that tripped means nothing). @default - any epoch
   */
  readonly epoch?: number;
}

/** The pipeline-wide limit: N outputs in any window of M minutes, across all agents. */
export interface PipelineLimit {
  readonly maxOutputs: number;
  readonly windowMinutes: number;
}

/** Whose output the breaker is asked to count. */
/** An output to hold for review once it is counted and admitted (see `review/held-outputs.ts`). */
export interface HoldSpec {
  /** The publisher that runs its side effect when approved. @default - none: it has no side effect but its event */
  readonly via?: string;
  readonly payload: unknown;
  readonly degraded: boolean;
  readonly reasons: readonly string[];
  /**
   * The memory updates the emitting run had queued before the output: its event, when approved, carries them, so the
   * runs it triggers wait for them as for any output's (causality). @default - none queued
   */
  readonly memory?: { readonly submitted: number; readonly unsent: readonly number[] };
}

/** A held output's publishing run, as the breaker lets it start: the output, or why not. */
export type HeldPublishing =
  | {
      readonly ok: true;
      readonly output: { readonly runId: string; readonly via?: string; readonly payload: unknown; readonly degraded: boolean; readonly memory?: { readonly submitted: number; readonly unsent: readonly number[] } };
    }
  /** `done`: it is publishing or published already (another run's): nothing to do, and nothing wrong. */
  | { readonly ok: false; readonly detail: string; readonly breakerOpen: boolean; readonly done?: boolean };

export interface AgentCounted {
  readonly agentId: string;
  /** Hold the output for review instead of letting it publish, once admitted. @default - publish */
  readonly hold?: HoldSpec;
  /**
   * The agent's own limit, for a trusted caller whose breaker was not configured with it (an agent's request to the
   * breaker function carries none: the function judges by the config's). @default - the breaker's `agentLimits`
   */
  readonly limit?: PipelineLimit;
}

/**
 * What counting an output in the pipeline's window found: counted, or refused by the breaker's state, or not
 * counted because the counting epoch moved on (a reset) since the agent's count.
 */
export type PipelineCount =
  | { readonly admitted: true; readonly epoch: number; readonly count: number }
  | {
      readonly admitted: false;
      readonly state: BreakerState;
      /** The breaker would admit it, but in a newer counting epoch: count it again there. */
      readonly epochChanged: boolean;
    };

export type Admission =
  | {
      readonly admitted: true;
      readonly probe: boolean;
      readonly epoch: number;
      /**
       * When an operator last reset the breaker by hand, for reviews `after-trip` (each agent's first run since is
       * after a trip; a breaker closed by a clean probe was tested by that probe). @default - never reset
       */
      readonly closedAfterTrip?: number;
    }
  | { readonly admitted: false; readonly reason: string };

/**
 * Whether an output may publish: counted in the agent's and the pipeline's windows, or refused (the breaker is open,
 * or this output crossed a limit and tripped it), or not counted because resets kept changing the counting epoch.
 */
export type OutputAdmission =
  | { readonly admitted: true; readonly held?: boolean }
  | { readonly admitted: false; readonly epochChanged: boolean; readonly detail: string };

/**
 * What an agent's guard asks of the breaker. In the cloud every call that moves the breaker's state goes to the
 * privileged breaker function (`RemoteBreaker`): no agent role may write the breaker's item, switch schedules or
 * publish alerts. The `Breaker` itself is that function's (and the operator's) implementation.
 */
export interface BreakerPort {
  /** The counting epoch last seen: windows count in its buckets. */
  readonly countingEpoch: number;
  /** `mayProbe: false`: a run that must not be a HALF_OPEN breaker's probe (a held output's publishing run). */
  admit(runId: string, options?: { readonly mayProbe?: boolean }): Promise<Admission>;
  /** `limit`: trusted callers only; an agent's `RemoteBreaker` ignores it (the breaker function has its own). */
  admitOutput(runId: string, outputId: string, counted: AgentCounted, limit?: PipelineLimit): Promise<OutputAdmission>;
  /** Opens the breaker; true for the one caller that made the transition. */
  trip(trip: Trip): Promise<boolean>;
  probeFinished(runId: string, clean: boolean): Promise<void>;
  /** Starts publishing an approved held output of `agentId`: once, and only while the breaker is CLOSED. */
  startHeldPublishing(agentId: string, outputId: string): Promise<HeldPublishing>;
  /** Records how a held output's side effect ended. */
  finishHeldPublishing(agentId: string, outputId: string, outcome: { readonly ok: true } | { readonly ok: false; readonly error: string }): Promise<void>;
}

/** The breaker's state from its item; a missing item is a closed breaker in epoch 0. */
export function breakerStateOf(Item: Record<string, unknown> | undefined): BreakerState {
  return {
    status: (Item?.status as BreakerStatus | undefined) ?? 'CLOSED',
    since: Item?.since as number | undefined,
    epoch: (Item?.epoch as number | undefined) ?? 0,
    reason: Item?.reason as TripReason | undefined,
    agentId: Item?.agentId as string | undefined,
    detail: Item?.detail as string | undefined,
    trips: (Item?.trips as number | undefined) ?? 0,
    restoreSchedules: (Item?.restoreSchedules as string[] | undefined) ?? [],
    probeRunId: Item?.probeRunId as string | undefined,
    tripSequence: Item?.tripSequence as number | undefined,
    resetAt: Item?.resetAt as number | undefined,
  };
}

/** Strongly consistent read of the breaker's state: all an agent role may do with the breaker's item. */
export async function readBreakerState(client: DynamoDBDocumentClient, tableName: string): Promise<BreakerState> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: KEYS.counters.breaker, ConsistentRead: true }));
  return breakerStateOf(Item);
}

