import type { BreakerState } from '../breaker/breaker-state.ts';
import type { HeldOutput, HeldOutputs, OnExpiry } from './held-outputs.ts';

/**
 * A person's decision on a held output, and expiry's, as the operator's CLI and the approval function make them:
 * recorded first (a conditional write: one of any number of racing deciders wins), then, for an approval, the
 * agent's publishing run is started, which publishes the output once under the breaker as it is then.
 */

/** How a held output's publishing run ended, as its agent reported it. */
export interface PublishOutcome {
  /** `started`: invoked without waiting (the watch's expiry); how it ends shows on the held output. */
  readonly status: 'completed' | 'halted' | 'skipped' | 'failed' | 'started';
  readonly detail: string;
}

export interface ReviewDeps {
  readonly held: HeldOutputs;
  readonly breakerState: () => Promise<BreakerState>;
  /** Starts the agent's publishing run for an approved output (a Lambda invoke, or the local handler) and waits for it. */
  readonly publish: (agentId: string, outputId: string) => Promise<PublishOutcome>;
}

export type DecisionResult =
  | { readonly outcome: 'published' | 'rejected'; readonly output: HeldOutput; readonly detail: string }
  /** Approved (now or before), but the publishing run did not publish: the breaker, or the publisher failed. */
  | { readonly outcome: 'approved'; readonly output: HeldOutput; readonly detail: string }
  | { readonly outcome: 'refused'; readonly output?: HeldOutput; readonly detail: string };

export interface DecisionRequest {
  readonly action: 'approve' | 'reject';
  /** Who decides: recorded with the decision. */
  readonly by: string;
  readonly reason?: string;
}

export async function decideHeld(deps: ReviewDeps, agentId: string, outputId: string, request: DecisionRequest): Promise<DecisionResult> {
  if (request.action === 'approve') {
    // Approving while the breaker is not closed would record a decision its run must refuse: say so, decide nothing.
    const state = await deps.breakerState();
    if (state.status !== 'CLOSED') {
      return {
        outcome: 'refused',
        detail: `the breaker is ${state.status}${state.detail ? ` (${state.detail})` : ''}: an approved output would not publish now. Reset the breaker, then approve ${outputId}; nothing was decided`,
      };
    }
  }
  const decided = await deps.held.decide(agentId, outputId, request);
  if (!decided.ok) {
    const output = decided.output;
    if (!output) return { outcome: 'refused', detail: `no held output ${outputId} of ${agentId}` };
    // Approved before, but not published (the breaker opened, say): its publishing run is started again.
    if (request.action === 'approve' && output.status === 'approved') return publishApproved(deps, output, `was approved by ${describe(output)}`);
    if (output.status === 'publishing') {
      return {
        outcome: 'refused',
        output,
        detail: `held output ${outputId} has been publishing since ${iso(output.publishingAt ?? 0)}: its run may still be going. If it died, check whether its side effect happened; 15 minutes on, reject it to close it`,
      };
    }
    if (decided.why === 'expired') return { outcome: 'refused', output, detail: `held output ${outputId} expired at ${iso(output.expiresAt)}; nothing was decided` };
    return { outcome: 'refused', output, detail: `held output ${outputId} is already ${output.status}${output.decision ? ` (${describe(output)})` : ''}` };
  }
  if (request.action === 'reject') return { outcome: 'rejected', output: decided.output, detail: `rejected ${outputId} of ${agentId}: nothing is published` };
  return publishApproved(deps, decided.output, `approved by ${request.by}`);
}

/**
 * Follows `onExpiry` for each of the agent's held outputs past its expiry: discarded, or approved by expiry and
 * published. Returns what it did, for the watch's digest.
 */
export async function expireHeld(deps: ReviewDeps, agentId: string, onExpiry: OnExpiry, now: number): Promise<DecisionResult[]> {
  const outputs = await deps.held.list(agentId);
  const due = outputs.filter((o) => o.status === 'held' && o.expiresAt <= now);
  const results: DecisionResult[] = [];
  // Approved by expiry earlier while the breaker was open: published once it is closed (no person will approve it).
  const waiting = outputs.filter((o) => o.status === 'approved' && o.decision?.action === 'expire');
  if (waiting.length > 0 && (await deps.breakerState()).status === 'CLOSED') {
    for (const output of waiting) results.push(await publishApproved(deps, output, 'approved by expiry while the breaker was open'));
  }
  for (const output of due) {
    const moved = await deps.held.expire(agentId, output.outputId, onExpiry);
    if (!moved.ok) continue; // a person decided first
    results.push(
      onExpiry === 'publish'
        ? await publishApproved(deps, moved.output, 'approved by expiry (onExpiry publish)')
        : { outcome: 'refused', output: moved.output, detail: `expired ${output.outputId} of ${agentId} unpublished (onExpiry discard)` },
    );
  }
  return results;
}

async function publishApproved(deps: ReviewDeps, output: HeldOutput, decided: string): Promise<DecisionResult> {
  const run = await deps.publish(output.agentId, output.outputId);
  // The held output says what happened, whichever run published it (a racing approval's, say).
  const after = (await deps.held.get(output.agentId, output.outputId)) ?? output;
  if (after.status === 'published') return { outcome: 'published', output: after, detail: `${decided}; published ${output.outputId} of ${output.agentId}` };
  if (run.status === 'started') return { outcome: 'approved', output: after, detail: `${decided}; its publishing run started` };
  return { outcome: 'approved', output: after, detail: `${decided}; not published (${after.status}): ${after.error ?? run.detail}` };
}

function describe(output: HeldOutput): string {
  const d = output.decision;
  return d ? `${d.action === 'expire' ? 'expiry' : d.by} at ${iso(d.at)}${d.reason ? `: ${d.reason}` : ''}` : 'nobody';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
