import { NightshiftError } from '../../errors.ts';
import type { Admission, AgentCounted, BreakerPort, BreakerState, HeldPublishing, HoldSpec, OutputAdmission, Trip } from './breaker-state.ts';

/**
 * Agents request, the breaker function acts. An agent role may read the breaker's state but never write its item,
 * switch schedules or publish alerts: every move of the breaker (count in the pipeline's window, trip, claim or end a
 * probe) is a request to the privileged breaker function, which knows the caller from the alias it was invoked
 * through (one alias per agent, and each agent role may invoke only its own). So no agent can reset the breaker,
 * lower the pipeline's window, trip it in another agent's name or end another agent's probe.
 */

/** What an agent may ask of the breaker function (checked there by `breakerRequestSchema`, `breaker-function.ts`). */
export type BreakerRequest =
  /** Claim the HALF_OPEN breaker's one probe run. */
  | { readonly op: 'claim-probe'; readonly runId: string }
  /**
   * Count one of the agent's outputs, in its window and the pipeline's, and say whether it may publish; with `hold`,
   * hold it for review once admitted (the function writes the held output: no agent role may).
   */
  | { readonly op: 'count'; readonly runId: string; readonly outputId: string; readonly epoch?: number; readonly sequence?: number; readonly hold?: HoldSpec }
  /** Trip the breaker for the agent's own window or budget (the pipeline's limit is the function's to judge). */
  | {
      readonly op: 'trip';
      readonly reason: 'outputs' | 'budget';
      readonly detail: string;
      readonly recentOutputIds?: readonly string[];
      readonly outputSequence?: number;
      readonly epoch?: number;
    }
  /** End the agent's own probe run, clean or not. */
  | { readonly op: 'probe-finished'; readonly runId: string; readonly clean: boolean }
  /** Start publishing one of the agent's approved held outputs (once, while the breaker is CLOSED). */
  | { readonly op: 'publish-held'; readonly outputId: string }
  /** How the side effect of one of the agent's held outputs ended. */
  | { readonly op: 'held-published'; readonly outputId: string; readonly ok: boolean; readonly error?: string };

/** What the breaker function answers; `epoch` is the counting epoch as the function left it. */
export type BreakerResponse =
  | { readonly op: 'claim-probe'; readonly admission: Admission; readonly epoch: number }
  | { readonly op: 'count'; readonly admission: OutputAdmission; readonly epoch: number }
  | { readonly op: 'trip'; readonly tripped: boolean; readonly epoch: number }
  | { readonly op: 'probe-finished'; readonly epoch: number }
  | { readonly op: 'publish-held'; readonly publishing: HeldPublishing; readonly epoch: number }
  | { readonly op: 'held-published'; readonly epoch: number };

/** A request the breaker function refuses: malformed, or from no agent of the pipeline. */
export class BreakerRequestError extends NightshiftError {
  override readonly name = 'BreakerRequestError';
}

/** Sends a request to the breaker function and returns its answer (a Lambda Invoke in the cloud). */
export type BreakerTransport = (request: BreakerRequest) => Promise<BreakerResponse>;

export interface RemoteBreakerOptions {
  /** Reads the breaker's state (a GetItem the agent role may make). */
  readonly state: () => Promise<BreakerState>;
  readonly send: BreakerTransport;
}

/**
 * The breaker as an agent sees it: its state read directly (a closed breaker admits a run for one read, as before),
 * every change asked of the breaker function.
 */
export class RemoteBreaker implements BreakerPort {
  private epoch = 0;

  constructor(private readonly options: RemoteBreakerOptions) {}

  get countingEpoch(): number {
    return this.epoch;
  }

  async admit(runId: string, options: { readonly mayProbe?: boolean } = {}): Promise<Admission> {
    const state = await this.options.state();
    this.epoch = state.epoch;
    if (state.status === 'CLOSED') return { admitted: true, probe: false, epoch: state.epoch, ...(state.resetAt === undefined ? {} : { closedAfterTrip: state.resetAt }) };
    if (state.status === 'OPEN') return { admitted: false, reason: `breaker OPEN since ${state.since === undefined ? 'unknown' : new Date(state.since).toISOString()}: ${state.detail}` };
    if (options.mayProbe === false) return { admitted: false, reason: 'breaker HALF_OPEN: a held output publishes once the breaker is closed' };
    const answer = await this.ask({ op: 'claim-probe', runId }, 'claim-probe');
    return answer.admission;
  }

  async admitOutput(runId: string, outputId: string, counted: AgentCounted): Promise<OutputAdmission> {
    const answer = await this.ask({ op: 'count', runId, outputId, ...(counted.hold ? { hold: counted.hold } : {}) }, 'count');
    return answer.admission;
  }

  async startHeldPublishing(_agentId: string, outputId: string): Promise<HeldPublishing> {
    return (await this.ask({ op: 'publish-held', outputId }, 'publish-held')).publishing;
  }

  async finishHeldPublishing(_agentId: string, outputId: string, outcome: { readonly ok: true } | { readonly ok: false; readonly error: string }): Promise<void> {
    await this.ask({ op: 'held-published', outputId, ok: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error.slice(0, 1_000) }) }, 'held-published');
  }

  async trip(trip: Trip): Promise<boolean> {
    if (trip.reason === 'pipeline-outputs') throw new BreakerRequestError('the pipeline window is the breaker function\'s to judge: an agent trips only for its own window or budget');
    const answer = await this.ask(
      {
        op: 'trip',
        reason: trip.reason,
        detail: trip.detail.slice(0, 1_000),
        ...(trip.recentOutputIds ? { recentOutputIds: trip.recentOutputIds.slice(-20) } : {}),
        ...(trip.outputSequence === undefined ? {} : { outputSequence: trip.outputSequence }),
        ...(trip.epoch === undefined ? {} : { epoch: trip.epoch }),
      },
      'trip',
    );
    return answer.tripped;
  }

  async probeFinished(runId: string, clean: boolean): Promise<void> {
    await this.ask({ op: 'probe-finished', runId, clean }, 'probe-finished');
  }

  private async ask<O extends BreakerResponse['op']>(request: BreakerRequest, op: O): Promise<Extract<BreakerResponse, { op: O }>> {
    const answer = await this.options.send(request);
    if (answer?.op !== op) throw new BreakerRequestError(`the breaker function answered ${JSON.stringify(answer?.op)} to a ${op} request`);
    this.epoch = answer.epoch;
    return answer as Extract<BreakerResponse, { op: O }>;
  }
}
