import type { AgentSpec } from '../../config/agent-spec.ts';
import { NightshiftError, NotConfiguredError } from '../../errors.ts';
import { BreakerOpenError } from '../breaker/breaker.ts';
import type { AgentContext, AgentOutput, EmittedOutput, GuardDeps } from '../run-context.ts';
import { publisherNamed } from './review-policy.ts';

/** A held output's publishing run found nothing to publish: not approved, already published, or not this agent's. */
export class HeldOutputError extends NightshiftError {
  override readonly name = 'HeldOutputError';
}

/**
 * The work of a held output's publishing run (`invocation.publishHeld`): the breaker function moves the output from
 * approved to publishing (once, and only while the breaker is CLOSED; an OPEN breaker halts the run and the output
 * stays approved), then its named publisher runs with this run's context and its event goes to the agents that run
 * on it, as an output published at once would. How it ended is recorded on the held output; a failed side effect is
 * recorded and not run again by itself.
 */
/** Records how the side effect ended: three attempts, a second apart, then the last error. */
async function finish(record: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await record();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
    }
  }
}

export async function publishHeld(deps: GuardDeps, spec: AgentSpec, context: AgentContext, tally: EmittedOutput[], outputId: string): Promise<string> {
  if (!deps.outputs) throw new NotConfiguredError(`${spec.id}: held output ${outputId} cannot be published without the breaker`);
  const start = await deps.outputs.startHeldPublishing(spec.id, outputId);
  if (!start.ok) {
    if (start.breakerOpen) throw new BreakerOpenError(`${spec.id}: ${start.detail}`);
    if (start.done) return start.detail;
    throw new HeldOutputError(`${spec.id}: ${start.detail}`);
  }
  const { via, payload, degraded, runId, memory } = start.output;
  // The breaker function names a run `<agent>/<run>`; the output keeps the id of the run that emitted it.
  const output: AgentOutput = { id: outputId, agentId: spec.id, runId: runId.startsWith(`${spec.id}/`) ? runId.slice(spec.id.length + 1) : runId, fencingToken: context.fencingToken, degraded, payload };
  try {
    if (via !== undefined) await publisherNamed(spec, deps.publishers, via)(output, context);
    if (spec.publishOutputs && deps.outputEvents) {
      // The runs it triggers wait for what the emitting run queued before it, as for any output. (A publisher's own
      // memory writes are not waited for: write what downstreams read in the work, before the emit.)
      await deps.outputEvents.publish({ ...output, ...(memory ? { memory } : {}) });
    }
  } catch (error) {
    await finish(() => deps.outputs!.finishHeldPublishing(spec.id, outputId, { ok: false, error: error instanceof Error ? error.message : String(error) }));
    throw error;
  }
  // Published: recorded, with retries (a throttled breaker function must not leave it 'publishing').
  await finish(() => deps.outputs!.finishHeldPublishing(spec.id, outputId, { ok: true }));
  tally.push({ ...output, published: true });
  deps.metrics?.count('OutputsPublished');
  return `published held output ${outputId}${via === undefined ? '' : ` through ${via}`}`;
}
