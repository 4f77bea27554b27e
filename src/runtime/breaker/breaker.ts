import { conditionally } from '../conditional.ts';
import { KEYS } from '../../contract/tables.ts';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { VerifiedCounts } from './verified-counts.ts';
import type { Clock } from '../clock.ts';
import type { MetricsSink } from '../metrics.ts';
import type { AlertSink } from './alerts.ts';
import { REMOVE_AT_MOST, bucketName, bucketWidth, minuteOf, removeClause, staleBuckets, windowOf } from './window-buckets.ts';
import type { ScheduleSwitch } from './schedules.ts';
import { tripAlert } from './trip-alert.ts';
import { NightshiftError } from '../../errors.ts';
import { HeldOutputs, type OnExpiry } from '../review/held-outputs.ts';

/**
 * The pipeline's circuit breaker, one state item on the counter table (`pk = breaker`, `sk = state`).
 *
 *   CLOSED ──trip──▶ OPEN ──cool-down (optional)──▶ HALF_OPEN ──clean probe run──▶ CLOSED
 *     ▲               │  ▲                              │
 *     └────reset──────┘  └──────probe trips or fails────┘
 *
 * Every transition is a conditional write, so exactly one writer wins it: only the winner of a trip halts the
 * schedules and publishes the alert, however many agents trip at once. A reset starts a new counting epoch, so the
 * burst that tripped the breaker is not counted again. The pipeline-wide output window is kept on the same item
 * ({@link Breaker.countOutput}), so admitting an output and counting it is one conditional write.
 */
export * from './breaker-state.ts';
import {
  type Admission,
  type AgentCounted,
  type BreakerPort,
  type BreakerState,
  type HeldPublishing,
  type OutputAdmission,
  type PipelineCount,
  type PipelineLimit,
  type Trip,
  breakerStateOf,
  readBreakerState,
} from './breaker-state.ts';

export interface BreakerOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: Clock;
  readonly alerts: AlertSink;
  readonly schedules: ScheduleSwitch;
  /** Names the pipeline in alerts, e.g. `nightshift (dev)`. */
  readonly pipelineLabel: string;
  /** The command that resets the breaker, quoted in alerts. */
  readonly resetCommand: string;
  /** Minutes OPEN before a probe run is let through; unset means only a manual reset closes it. */
  readonly coolDownMinutes?: number;
  /**
   * The pipeline-wide limit: N outputs in any window of M minutes, across all agents. @default - set by the caller of
   * `admitOutput` (privileged code only); without either, outputs are counted in a 60-minute window and never refused
   * for the pipeline's sake
   */
  readonly pipelineLimit?: PipelineLimit;
  /**
   * Each agent's own limit, as the config sets it. The breaker function counts each caller's outputs in a window
   * of its own (`verified#<agent>`, which no agent role may write) and trips in the caller's name when it passes
   * its limit there, whatever the caller's own window (its to write) says. @default - no agent's count is verified
   */
  readonly agentLimits?: Readonly<Record<string, PipelineLimit>>;
  /** Each reviewed agent's expiry, by which its held outputs are written. @default - 24 hours, then discarded */
  readonly reviews?: Readonly<Record<string, { readonly expiresAfterHours: number; readonly onExpiry: OnExpiry }>>;
  readonly metrics?: MetricsSink;
}

/** How long a claimed probe is the probe: a probe run that never finished (it died) lets another claim after this. */
export const PROBE_CLAIM_LAPSE_MS = 2 * 60 * 60_000;

/** Outputs let through while OPEN (ones the tripping agent counted before its tripping output), at most. */
export const OPEN_ADMISSIONS_MAX = 100;

const KEY = KEYS.counters.breaker;

/** Thrown into an agent's work when the breaker is open: the run stops, nothing more is published. */
export class BreakerOpenError extends NightshiftError {
  override readonly name = 'BreakerOpenError';
}

export class Breaker implements BreakerPort {
  /** The counting epoch last seen: outputs are counted in its buckets, and a stale guess costs one retry. */
  private epoch = 0;
  /** Pipeline buckets the last count saw as stale: the next count removes them. */
  private staleBuckets: string[] = [];
  /** Each caller's outputs as the breaker counts them (`verified#<agent>`). */
  private readonly verified: VerifiedCounts;
  /** Outputs held for review: written here once counted, never by an agent role. */
  private readonly held: HeldOutputs;

  constructor(private readonly options: BreakerOptions) {
    this.verified = new VerifiedCounts({ client: options.client, tableName: options.tableName, clock: options.clock });
    this.held = new HeldOutputs({ client: options.client, tableName: options.tableName, clock: options.clock });
  }

  /** Strongly consistent read of the state; a missing item is a closed breaker. */
  async state(): Promise<BreakerState> {
    const state = await readBreakerState(this.options.client, this.options.tableName);
    this.epoch = state.epoch;
    return state;
  }

  /**
   * Counts one output of `counted.agentId` and says whether it may publish. First in the agent's window, as the
   * breaker keeps it (`VerifiedCounts`, whatever the caller claims): the update orders the agent's outputs, and the one
   * that crosses the agent's limit trips the breaker (reason `outputs`) instead of publishing. Then in the pipeline's
   * window ({@link Breaker.countOutput}), in the conditional update that checks the breaker admits it; the output that
   * crosses the pipeline's limit trips it (reason `pipeline-outputs`, naming the agent with the most outputs). Two
   * store calls, each on an item whose size does not depend on how many outputs its window holds. Counted in this
   * process's counting epoch; a reset since then costs a retry, here, in the new one.
   */
  async admitOutput(runId: string, outputId: string, counted: AgentCounted, limit: PipelineLimit | undefined = this.options.pipelineLimit): Promise<OutputAdmission> {
    const { maxOutputs, windowMinutes } = limit ?? { maxOutputs: Number.POSITIVE_INFINITY, windowMinutes: 60 };
    const { agentId } = counted;
    // Held outputs are written for the agents the config reviews, and no other (before anything is counted).
    if (counted.hold && this.options.reviews && !this.options.reviews[agentId]) {
      throw new NightshiftError(`${agentId} has no review policy: its outputs are never held (output ${outputId} was not counted)`);
    }
    const own = this.options.agentLimits?.[agentId] ?? counted.limit;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const epoch = this.epoch;
      const agent = await this.verified.count(agentId, epoch, own?.windowMinutes ?? windowMinutes, outputId);
      if (own && agent.count > own.maxOutputs) {
        const detail = `${agentId} produced ${agent.count} outputs in the last ${own.windowMinutes} minutes; the limit is ${own.maxOutputs} (counted by the breaker function)`;
        const tripped = await this.trip({ reason: 'outputs', agentId, detail, recentOutputIds: agent.recentOutputIds, outputSequence: agent.sequence, epoch });
        // A reset since this process last looked: the count that crossed means nothing; count again in the new epoch.
        if (!tripped && this.epoch !== epoch) continue;
        return { admitted: false, epochChanged: false, detail };
      }
      const pipeline = await this.countOutput(runId, outputId, windowMinutes, { agentId, epoch, sequence: agent.sequence });
      if (!pipeline.admitted) {
        if (pipeline.epochChanged) continue;
        return { admitted: false, epochChanged: false, detail: `the breaker is ${pipeline.state.status}` };
      }
      if (pipeline.count <= maxOutputs) {
        if (!counted.hold) return { admitted: true };
        const review = this.options.reviews?.[agentId] ?? { expiresAfterHours: 24, onExpiry: 'discard' };
        await this.held.hold({ agentId, outputId, runId, ...counted.hold, ...review });
        return { admitted: true, held: true };
      }
      // The trip names the agent with the most outputs in its window (by the breaker's own counts), and says whose output crossed.
      const windows = Object.fromEntries(Object.entries(this.options.agentLimits ?? {}).map(([id, l]) => [id, l.windowMinutes]));
      const blamed = await this.verified.top(windows, epoch);
      const crossed = blamed && blamed.agentId !== agentId ? `; most of them are ${blamed.agentId}'s (${blamed.count}), ${agentId}'s output crossed the limit` : '';
      const detail = `the pipeline produced ${pipeline.count} outputs in the last ${windowMinutes} minutes; the limit is ${maxOutputs}${crossed}`;
      await this.trip({ reason: 'pipeline-outputs', agentId: blamed?.agentId ?? agentId, detail, recentOutputIds: agent.recentOutputIds, epoch });
      return { admitted: false, epochChanged: false, detail };
    }
    return { admitted: false, epochChanged: true, detail: `the counting epoch kept changing (resets) while counting output ${outputId}` };
  }

  /** The counting epoch this process last saw (from the last state read or count): windows count in its buckets. */
  get countingEpoch(): number {
    return this.epoch;
  }

  /**
   * Counts one output of `runId` in the pipeline's window of `windowMinutes`, in the same conditional update that
   * checks the breaker admits it and that the counting epoch is still `counted.epoch`; the same update removes the
   * buckets the last count saw fall out of the window. The breaker admits it when CLOSED, when HALF_OPEN with this run
   * as the probe, and when OPEN by this agent's own window from an output counted after this one (see
   * {@link Trip.outputSequence}). Returns the window including this output, or why it was not counted.
   */
  async countOutput(
    runId: string,
    _outputId: string,
    windowMinutes: number,
    counted?: { readonly agentId: string; readonly epoch: number; readonly sequence: number },
  ): Promise<PipelineCount> {
    const { client, tableName, clock } = this.options;
    const epoch = counted?.epoch ?? this.epoch;
    const minute = minuteOf(clock.now());
    const bucket = bucketName(epoch, minute, bucketWidth(windowMinutes));
    const remove = removeClause(this.staleBuckets.filter((name) => name !== bucket).slice(0, REMOVE_AT_MOST));
    const result = await conditionally(
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: KEY,
          // openAdmitted counts every count; a trip sets it to 0, so while OPEN it counts what was let through.
          UpdateExpression: `ADD #n :one, openAdmitted :one${remove.clause}`,
          ConditionExpression:
            '(attribute_not_exists(#status) OR #status = :closed OR (#status = :halfOpen AND probeRunId = :run) OR ' +
            '(#status = :open AND reason = :outputs AND agentId = :agent AND tripSequence > :sequence AND openAdmitted < :openMax)) AND ' +
            (epoch === 0 ? '(attribute_not_exists(epoch) OR epoch = :epoch)' : 'epoch = :epoch'),
          ExpressionAttributeNames: { '#status': 'status', '#n': bucket, ...remove.names },
          ExpressionAttributeValues: {
            ':one': 1,
            ':closed': 'CLOSED',
            ':halfOpen': 'HALF_OPEN',
            ':open': 'OPEN',
            ':outputs': 'outputs',
            // Without the agent's count (a caller that has none), no output is let past its own agent's trip.
            ':agent': counted?.agentId ?? '',
            ':sequence': counted?.sequence ?? Number.MAX_SAFE_INTEGER,
            ':run': runId,
            ':epoch': epoch,
            ':openMax': OPEN_ADMISSIONS_MAX,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (!result.ok) {
      const state = this.stateOf(result.current);
      const admits = state.status === 'CLOSED' || (state.status === 'HALF_OPEN' && state.probeRunId === runId);
      return { admitted: false, state, epochChanged: admits && state.epoch !== epoch };
    }
    const item = result.value.Attributes ?? {};
    this.staleBuckets = staleBuckets(item, epoch, minute, windowMinutes);
    return { admitted: true, epoch, count: windowOf(item, epoch, minute, windowMinutes) };
  }

  private stateOf(Item: Record<string, unknown> | undefined): BreakerState {
    const state = breakerStateOf(Item);
    this.epoch = state.epoch;
    return state;
  }

  /**
   * Decides whether a run may start: yes when CLOSED; no when OPEN; when HALF_OPEN, yes for exactly one run (the
   * probe), claimed with a conditional write.
   */
  async admit(runId: string, options: { readonly agentId?: string; readonly mayProbe?: boolean } = {}): Promise<Admission> {
    const { agentId, mayProbe = true } = options;
    const state = await this.state();
    if (state.status === 'CLOSED') return closedAdmission(state);
    if (state.status === 'OPEN') return { admitted: false, reason: `breaker OPEN since ${iso(state.since)}: ${state.detail}` };
    if (!mayProbe) return { admitted: false, reason: 'breaker HALF_OPEN: a held output publishes once the breaker is closed' };
    // The probe is the tripping agent's (when the caller is known, as in the breaker function): another agent's clean
    // run proves nothing about the loop. A claim whose run died lapses, so the next run of that agent probes.
    const now = this.options.clock.now();
    const claimed = await this.transition(
      `SET probeRunId = :run, probeClaimedAt = :now`,
      `#status = :halfOpen AND (attribute_not_exists(probeRunId) OR probeClaimedAt <= :lapsed)${agentId === undefined ? '' : ' AND agentId = :caller'}`,
      { ':run': runId, ':halfOpen': 'HALF_OPEN', ':now': now, ':lapsed': now - PROBE_CLAIM_LAPSE_MS, ...(agentId === undefined ? {} : { ':caller': agentId }) },
    );
    if (claimed) return { admitted: true, probe: true, epoch: state.epoch };
    if (agentId !== undefined && state.agentId !== undefined && state.agentId !== agentId) {
      return { admitted: false, reason: `breaker HALF_OPEN: only ${state.agentId}, whose outputs tripped it, may probe` };
    }
    return { admitted: false, reason: `breaker HALF_OPEN: probe run ${state.probeRunId ?? ''} is in progress`.trim() };
  }

  async startHeldPublishing(agentId: string, outputId: string): Promise<HeldPublishing> {
    const state = await this.state();
    if (state.status !== 'CLOSED') {
      return { ok: false, breakerOpen: true, detail: `the breaker is ${state.status}: held output ${outputId} stays approved; it publishes when approved again once the breaker is closed` };
    }
    const moved = await this.held.startPublishing(agentId, outputId);
    if (!moved.ok) {
      const status = moved.output?.status;
      const done = status === 'publishing' || status === 'published';
      return { ok: false, breakerOpen: false, ...(done ? { done } : {}), detail: `held output ${outputId} of ${agentId} ${status ? `is ${status}${done ? '' : ', not approved'}` : 'does not exist'}: nothing to publish` };
    }
    const { runId, via, payload, degraded, memory } = moved.output;
    return { ok: true, output: { runId, ...(via === undefined ? {} : { via }), payload, degraded, ...(memory ? { memory } : {}) } };
  }

  async finishHeldPublishing(agentId: string, outputId: string, outcome: { readonly ok: true } | { readonly ok: false; readonly error: string }): Promise<void> {
    await this.held.finishPublishing(agentId, outputId, outcome);
  }

  /**
   * Opens the breaker. Returns true for the one caller that made the transition, which also disables the enabled
   * schedules (remembering them for reset) and publishes the single alert.
   */
  async trip(trip: Trip): Promise<boolean> {
    const now = this.options.clock.now();
    const sequence = trip.outputSequence !== undefined;
    const epoch = trip.epoch === undefined ? '' : trip.epoch === 0 ? ' AND (attribute_not_exists(epoch) OR epoch = :epoch)' : ' AND epoch = :epoch';
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: KEY,
          UpdateExpression:
            `SET #status = :open, since = :now, reason = :reason, agentId = :agent, detail = :detail, openAdmitted = :zero${sequence ? ', tripSequence = :sequence' : ''} ` +
            `ADD trips :one REMOVE probeRunId, probeClaimedAt${sequence ? '' : ', tripSequence'}`,
          // While HALF_OPEN only the agent whose probe it is can trip it again (no other agent runs then): another agent
          // tripping would take the probe over, and could close a breaker whose loop never passed a probe.
          ConditionExpression: `(attribute_not_exists(#status) OR #status = :closed OR (#status = :halfOpen AND agentId = :agent))${epoch}`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':open': 'OPEN',
            ':closed': 'CLOSED',
            ':halfOpen': 'HALF_OPEN',
            ':now': now,
            ':reason': trip.reason,
            ':agent': trip.agentId,
            ':detail': trip.detail,
            ':one': 1,
            ':zero': 0,
            ...(sequence ? { ':sequence': trip.outputSequence } : {}),
            ...(trip.epoch === undefined ? {} : { ':epoch': trip.epoch }),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (!result.ok) {
      this.stateOf(result.current); // another trip won, or the epoch moved on: either way, now known
      return false;
    }
    const previous = result.value.Attributes;
    this.options.metrics?.count('BreakerTrips');
    let haltError: unknown;
    let halted: string[] = [];
    try {
      halted = await this.halt(now);
    } catch (error) {
      haltError = error;
    }
    const { pipelineLabel, resetCommand } = this.options;
    await this.options.alerts.publish(tripAlert(trip, { pipelineLabel, resetCommand, at: now, reopened: previous?.status === 'HALF_OPEN', halted, haltError }));
    if (haltError) throw haltError;
    return true;
  }

  /**
   * After the cool-down, moves OPEN to HALF_OPEN and re-enables the schedules so the next run probes. The move
   * starts a new counting epoch, so the probe is judged on its own outputs, not refused for the burst that tripped
   * the breaker (whatever the cool-down against the window). Called by the breaker watchdog (and the local runner's
   * clock). Returns whether this call made the transition.
   */
  async coolDown(): Promise<boolean> {
    const { coolDownMinutes, clock } = this.options;
    if (coolDownMinutes === undefined) return false;
    const state = await this.state();
    if (state.status !== 'OPEN' || state.since === undefined || clock.now() < state.since + coolDownMinutes * 60_000) return false;
    const moved = await this.transition('SET #status = :halfOpen, since = :now, epoch = :nextEpoch', '#status = :open AND since = :since', {
      ':halfOpen': 'HALF_OPEN',
      ':open': 'OPEN',
      ':since': state.since,
      ':now': clock.now(),
      ':nextEpoch': state.epoch + 1,
    });
    if (moved) await this.options.schedules.enable(state.restoreSchedules);
    return moved;
  }

  /** Ends a probe: a clean run closes the breaker; a failed one opens it again (no new alert) for another cool-down. */
  async probeFinished(runId: string, clean: boolean): Promise<void> {
    const now = this.options.clock.now();
    const values = { ':halfOpen': 'HALF_OPEN', ':run': runId, ':now': now };
    const condition = '#status = :halfOpen AND probeRunId = :run';
    if (clean) {
      // What the trip left (its detail can be 1 KB) goes too: every count rewrites this item, billed by its size.
      await this.transition('SET #status = :closed, since = :now REMOVE probeRunId, probeClaimedAt, restoreSchedules, reason, agentId, detail, tripSequence', condition, {
        ...values,
        ':closed': 'CLOSED',
      });
    } else if (await this.transition('SET #status = :open, since = :now REMOVE probeRunId, probeClaimedAt', condition, { ...values, ':open': 'OPEN' })) {
      await this.halt(now);
    }
  }

  /**
   * Closes the breaker by hand: re-enables exactly the schedules the trip disabled and starts a new counting
   * epoch. Returns the schedules re-enabled; a closed breaker is left alone.
   */
  async reset(): Promise<{ wasOpen: boolean; enabled: readonly string[] }> {
    const state = await this.state();
    if (state.status === 'CLOSED') return { wasOpen: false, enabled: [] };
    await this.options.schedules.enable(state.restoreSchedules);
    // The item is written anew, not updated: whatever its windows had grown to, the reset leaves a small, working item
    // (the new epoch's windows start empty anyway).
    await conditionally(
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...KEY, status: 'CLOSED', since: this.options.clock.now(), resetAt: this.options.clock.now(), epoch: state.epoch + 1, trips: state.trips },
          ConditionExpression: '#status = :observed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':observed': state.status },
        }),
      ),
    );
    return { wasOpen: true, enabled: state.restoreSchedules };
  }

  /**
   * The halt of the trip that opened the breaker at `since`: records the enabled schedules, then disables them, so
   * a crash in between leaves reset a list to restore. Every step is tied to that trip: nothing is disabled unless
   * the list was recorded while the breaker was still OPEN from it, and if a reset (or anything else) moved the
   * breaker on while the schedules were being disabled, they are enabled again — the breaker is never left CLOSED
   * with schedules off and nothing recorded to restore.
   */
  private async halt(since: number): Promise<string[]> {
    const { schedules } = this.options;
    const enabled = await schedules.enabled();
    if (enabled.length === 0) return enabled;
    const state = await this.state();
    const restore = [...new Set([...state.restoreSchedules, ...enabled])];
    const ofThisTrip = '#status = :open AND since = :since';
    if (!(await this.transition('SET restoreSchedules = :restore', ofThisTrip, { ':restore': restore, ':open': 'OPEN', ':since': since }))) return [];
    await schedules.disable(enabled);
    const after = await this.state();
    if (after.status !== 'OPEN' || after.since !== since) {
      await schedules.enable(enabled);
      return [];
    }
    return enabled;
  }

  private async transition(update: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: KEY,
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
    return result.ok;
  }
}

/** A closed breaker's admission; after a reset by hand, with when (for reviews `after-trip`). */
export function closedAdmission(state: BreakerState): Admission {
  return { admitted: true, probe: false, epoch: state.epoch, ...(state.resetAt === undefined ? {} : { closedAfterTrip: state.resetAt }) };
}

function iso(epochMs: number | undefined): string {
  return epochMs === undefined ? 'unknown' : new Date(epochMs).toISOString();
}
