import * as z from 'zod/mini';
import { describeIssues } from '../schema.ts';
import { MAX_HELD_PAYLOAD_BYTES } from '../review/held-outputs.ts';
import type { Breaker, Trip } from './breaker.ts';
import { BreakerRequestError, type BreakerRequest, type BreakerResponse, type BreakerTransport } from './authority.ts';

/**
 * The breaker function's side of agents' requests: what it accepts (`breakerRequestSchema`) and how it carries each
 * out in the caller's name (`handleBreakerRequest`). Agents only send (`RemoteBreaker`, `authority.ts`): none of
 * this is in their bundles.
 */

/** One line of text: no control characters (what a person reads must not be forged line by line). */
const PRINTABLE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/;
const id = () => z.string().check(z.minLength(1), z.maxLength(200), z.regex(PRINTABLE, 'must be one line without control characters'));
const count = () => z.int().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER));

export const breakerRequestSchema = z.discriminatedUnion('op', [
  /** Claim the HALF_OPEN breaker's one probe run. */
  z.object({ op: z.literal('claim-probe'), runId: id() }),
  /**
   * Count one of the agent's outputs, in its window and the pipeline's, and say whether it may publish. `epoch` and
   * `sequence` (what earlier agents sent) are accepted and ignored: the function counts in its own epoch and orders
   * the agent's outputs itself.
   */
  z.object({
    op: z.literal('count'),
    runId: id(),
    outputId: id(),
    epoch: z.optional(count()),
    sequence: z.optional(count()),
    /** Hold the output for review once admitted: its payload (at most 64 KB of JSON), publisher and why. */
    hold: z.optional(
      z.object({
        via: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
        payload: z.unknown().check(z.refine((payload) => Buffer.byteLength(JSON.stringify(payload) ?? 'null') <= MAX_HELD_PAYLOAD_BYTES, `must take at most ${MAX_HELD_PAYLOAD_BYTES} bytes of JSON`)),
        degraded: z.boolean(),
        // Shown to a person (digest, page, CLI): one line each, no control characters.
        reasons: z.array(z.string().check(z.minLength(1), z.maxLength(500), z.regex(PRINTABLE, 'must be one line without control characters'))).check(z.minLength(1), z.maxLength(10)),
        memory: z.optional(z.object({ submitted: z.int().check(z.minimum(0), z.maximum(1_000_000)), unsent: z.array(z.int().check(z.minimum(0))).check(z.maxLength(10_000)) })),
      }),
    ),
  }),
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
  /** Start publishing one of the agent's own approved held outputs. */
  z.object({ op: z.literal('publish-held'), outputId: id() }),
  /** How one of the agent's own held outputs' side effect ended. */
  z.object({ op: z.literal('held-published'), outputId: id(), ok: z.boolean(), error: z.optional(z.string().check(z.maxLength(1_000))) }),
]);

// What the schema accepts is what an agent may send.
const _accepted: (request: z.output<typeof breakerRequestSchema>) => BreakerRequest = (request) => request;
void _accepted;

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
      const admission = await breaker.admit(run(ask.runId), { agentId });
      return { op: ask.op, admission, epoch: breaker.countingEpoch };
    }
    case 'count': {
      const admission = await breaker.admitOutput(run(ask.runId), ask.outputId, { agentId, ...(ask.hold ? { hold: ask.hold } : {}) });
      return { op: ask.op, admission, epoch: breaker.countingEpoch };
    }
    case 'trip': {
      const trip: Trip = {
        reason: ask.reason,
        agentId,
        detail: ask.detail,
        ...(ask.recentOutputIds ? { recentOutputIds: ask.recentOutputIds } : {}),
        // No output sequence: the function numbers an agent's outputs itself, and a trip an agent asks for lets none
        // of its outputs through while OPEN (a sequence it claimed would).
        ...(ask.epoch === undefined ? {} : { epoch: ask.epoch }),
      };
      const tripped = await breaker.trip(trip);
      return { op: ask.op, tripped, epoch: breaker.countingEpoch };
    }
    case 'probe-finished':
      await breaker.probeFinished(run(ask.runId), ask.clean);
      return { op: ask.op, epoch: breaker.countingEpoch };
    // Held outputs are the caller's own: the alias names the agent, whatever output id the request gives.
    case 'publish-held':
      return { op: ask.op, publishing: await breaker.startHeldPublishing(agentId, ask.outputId), epoch: breaker.countingEpoch };
    case 'held-published':
      await breaker.finishHeldPublishing(agentId, ask.outputId, ask.ok ? { ok: true } : { ok: false, error: ask.error ?? 'the publisher failed' });
      return { op: ask.op, epoch: breaker.countingEpoch };
  }
}

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

