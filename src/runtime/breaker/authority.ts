import * as z from 'zod/mini';
import { NightshiftError } from '../../errors.ts';
import { describeIssues } from '../schema.ts';
import type { Admission, AgentCounted, Breaker, BreakerPort, BreakerState, OutputAdmission, Trip } from './breaker.ts';

/**
 * Agents request, the breaker function acts. An agent role may read the breaker's state but never write its item,
 * switch schedules or publish alerts: every move of the breaker (count in the pipeline's window, trip, claim or end a
 * probe) is a request to the privileged breaker function, which knows the caller from the alias it was invoked
 * through (one alias per agent, and each agent role may invoke only its own). So no agent can reset the breaker,
 * lower the pipeline's window, trip it in another agent's name or end another agent's probe.
 */

const id = () => z.string().check(z.minLength(1), z.maxLength(200));
const count = () => z.int().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER));

export const breakerRequestSchema = z.discriminatedUnion('op', [
  /** Claim the HALF_OPEN breaker's one probe run. */
  z.object({ op: z.literal('claim-probe'), runId: id() }),
  /**
   * Count one of the agent's outputs, in its window and the pipeline's, and say whether it may publish. `epoch` and
   * `sequence` (what earlier agents sent) are accepted and ignored: the function counts in its own epoch and orders
   * the agent's outputs itself.
   */
  z.object({ op: z.literal('count'), runId: id(), outputId: id(), epoch: z.optional(count()), sequence: z.optional(count()) }),
  /** Trip the breaker for the agent's own window or budget (the pipeline's limit is the function's to judge). */
  z.object({
    op: z.literal('trip'),
    reason: z.enum(['outputs', 'budget']),
    detail: z.string().check(z.minLength(1), z.maxLength(1_000)),
    recentOutputIds: z.optional(z.array(id()).check(z.maxLength(20))),
    outputSequence: z.optional(count()),
    epoch: z.optional(count()),
  }),
  /** End the agent's own probe run, clean or not. */
  z.object({ op: z.literal('probe-finished'), runId: id(), clean: z.boolean() }),
]);

export type BreakerRequest = z.output<typeof breakerRequestSchema>;

/** What the breaker function answers; `epoch` is the counting epoch as the function left it. */
export type BreakerResponse =
  | { readonly op: 'claim-probe'; readonly admission: Admission; readonly epoch: number }
  | { readonly op: 'count'; readonly admission: OutputAdmission; readonly epoch: number }
  | { readonly op: 'trip'; readonly tripped: boolean; readonly epoch: number }
  | { readonly op: 'probe-finished'; readonly epoch: number };

/** A request the breaker function refuses: malformed, or from no agent of the pipeline. */
export class BreakerRequestError extends NightshiftError {
  override readonly name = 'BreakerRequestError';
}

/**
 * The breaker function's whole job: carry out `agentId`'s request on the breaker. The caller is who the invocation
 * says (the alias), never what the request says: a run id is the caller's own (`<agent>/<run>`), a count or trip
 * names the caller.
 */
export async function handleBreakerRequest(breaker: Breaker, agentId: string, request: unknown): Promise<BreakerResponse> {
  const parsed = breakerRequestSchema.safeParse(request);
  if (!parsed.success) throw new BreakerRequestError(`breaker request from ${agentId} refused: ${describeIssues(parsed.error, '(request)')}`);
  const ask = parsed.data;
  const run = (runId: string) => `${agentId}/${runId}`;
  switch (ask.op) {
    case 'claim-probe': {
      const admission = await breaker.admit(run(ask.runId), agentId);
      return { op: ask.op, admission, epoch: breaker.countingEpoch };
    }
    case 'count': {
      const admission = await breaker.admitOutput(run(ask.runId), ask.outputId, { agentId });
      return { op: ask.op, admission, epoch: breaker.countingEpoch };
    }
    case 'trip': {
      const trip: Trip = {
        reason: ask.reason,
        agentId,
        detail: ask.detail,
        ...(ask.recentOutputIds ? { recentOutputIds: ask.recentOutputIds } : {}),
        ...(ask.outputSequence === undefined ? {} : { outputSequence: ask.outputSequence }),
        ...(ask.epoch === undefined ? {} : { epoch: ask.epoch }),
      };
      const tripped = await breaker.trip(trip);
      return { op: ask.op, tripped, epoch: breaker.countingEpoch };
    }
    case 'probe-finished':
      await breaker.probeFinished(run(ask.runId), ask.clean);
      return { op: ask.op, epoch: breaker.countingEpoch };
  }
}

/** Sends a request to the breaker function and returns its answer (a Lambda Invoke in the cloud). */
export type BreakerTransport = (request: BreakerRequest) => Promise<BreakerResponse>;

/**
 * The breaker function run in this process, for local mode, the bench and chaos: the request and the answer go
 * through JSON, as a Lambda invoke carries them, and the caller is fixed to `agentId` as its alias would fix it.
 */
export function inProcessTransport(breaker: Breaker, agentId: string, onRequest?: (request: BreakerRequest) => void): BreakerTransport {
  return async (request) => {
    onRequest?.(request);
    const response = await handleBreakerRequest(breaker, agentId, JSON.parse(JSON.stringify(request)));
    return JSON.parse(JSON.stringify(response)) as BreakerResponse;
  };
}

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

  async admit(runId: string): Promise<Admission> {
    const state = await this.options.state();
    this.epoch = state.epoch;
    if (state.status === 'CLOSED') return { admitted: true, probe: false, epoch: state.epoch };
    if (state.status === 'OPEN') return { admitted: false, reason: `breaker OPEN since ${state.since === undefined ? 'unknown' : new Date(state.since).toISOString()}: ${state.detail}` };
    const answer = await this.ask({ op: 'claim-probe', runId }, 'claim-probe');
    return answer.admission;
  }

  async admitOutput(runId: string, outputId: string, _counted: AgentCounted): Promise<OutputAdmission> {
    const answer = await this.ask({ op: 'count', runId, outputId }, 'count');
    return answer.admission;
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
