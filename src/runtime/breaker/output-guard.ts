import { createHash } from 'node:crypto';
import type { AgentSpec } from '../../config/agent-spec.ts';
import { ContentionError } from '../../errors.ts';
import type { MetricsSink } from '../metrics.ts';
import { type Admission, BreakerOpenError, type BreakerPort, type HeldPublishing, type HoldSpec, type PipelineLimit } from './breaker.ts';
import type { OutputWindows } from './output-window.ts';

export type EmitResult =
  | { readonly published: true }
  | { readonly published: false; readonly reason: 'duplicate' }
  /** Held for a person's review (the agent's `review` matched): its side effect runs once approved. */
  | { readonly published: false; readonly reason: 'held'; readonly heldFor: readonly string[] };

export interface OutputGuardOptions {
  /** The breaker itself (privileged code), or the agent's `RemoteBreaker` that asks the breaker function. */
  readonly breaker: BreakerPort;
  readonly windows: OutputWindows;
  /**
   * The pipeline-wide limit, when the breaker is the `Breaker` itself in trusted code and does not know it (an agent's
   * `RemoteBreaker` ignores this: the breaker function judges by its own). @default - the breaker's own
   */
  readonly pipelineLimit?: PipelineLimit;
  readonly metrics?: MetricsSink;
}

/**
 * What stands between an agent's output and its side effect. Before `publish` runs, the breaker counts the output in
 * the agent's window and the pipeline's (the breaker function, in the cloud: items no agent role may write); the
 * output that crosses the agent's limit, or the pipeline's, trips the breaker and goes no further, and so does any
 * output while the breaker is open. An admitted output then claims its content (the agent's own item), so identical
 * content publishes once per duplicate window; a duplicate is suppressed and still counted, so a loop repeating
 * itself trips. Three store calls per output, each on an item of constant size (see `window-buckets.ts`).
 *
 * Under concurrency the agent's count decides: its update orders the agent's outputs (each gets a sequence number),
 * and the trip by output N+1 records that number, so the N outputs counted before it are still admitted by the
 * pipeline step after the trip: exactly N publish, and the trip names the agent.
 */
export class OutputGuard {
  constructor(private readonly options: OutputGuardOptions) {}

  admit(runId: string, options?: { readonly mayProbe?: boolean }): Promise<Admission> {
    return this.options.breaker.admit(runId, options);
  }

  /**
   * Holds an output for review instead of publishing it. Its content is claimed first, so the same content is not
   * held twice within the duplicate window; then the breaker counts it (a loop of held outputs trips as any other)
   * and, once admitted, the breaker function writes the held output, which no agent role may write. A duplicate is
   * still counted, and suppressed; a refused output gives its claim back.
   */
  async hold(spec: AgentSpec, runId: string, outputId: string, hold: HoldSpec): Promise<EmitResult> {
    const { breaker, windows, metrics } = this.options;
    const claim = await windows.claim(spec.id, contentHash(hold.payload), spec.duplicateWindowMinutes);
    // A request that failed may have held the output (only its answer lost): the claim stays, so a retry of the run
    // finds the content claimed and holds no second copy. Only a refusal gives the claim back.
    const admission = await breaker.admitOutput(runId, outputId, { agentId: spec.id, limit: spec.breaker, ...(claim.claimed ? { hold } : {}) }, this.options.pipelineLimit);
    if (!admission.admitted) {
      await claim.release();
      if (admission.epochChanged) throw new ContentionError(`${spec.id}: output ${outputId}: ${admission.detail}; try again`);
      this.refused(spec.id, outputId, admission.detail);
    }
    if (!claim.claimed) {
      metrics?.count('DuplicatesSuppressed');
      return { published: false, reason: 'duplicate' };
    }
    metrics?.count('OutputsHeld');
    return { published: false, reason: 'held', heldFor: hold.reasons };
  }

  /** The agent's model tokens spent today (for reviews `budget`). */
  tokensSpentToday(agentId: string): Promise<number> {
    return this.options.windows.tokensSpent(agentId);
  }

  /** Starts the publishing run of an approved held output (see `Breaker.startHeldPublishing`). */
  startHeldPublishing(agentId: string, outputId: string): Promise<HeldPublishing> {
    return this.options.breaker.startHeldPublishing(agentId, outputId);
  }

  finishHeldPublishing(agentId: string, outputId: string, outcome: { readonly ok: true } | { readonly ok: false; readonly error: string }): Promise<void> {
    return this.options.breaker.finishHeldPublishing(agentId, outputId, outcome);
  }

  probeFinished(runId: string, clean: boolean): Promise<void> {
    return this.options.breaker.probeFinished(runId, clean);
  }

  /** Counts a run an outside-event trigger starts; the hour's count including it (see `OutputWindows.countEvent`). */
  countTriggeredRun(agentId: string, triggerIndex: number): Promise<number> {
    return this.options.windows.countEvent(agentId, triggerIndex);
  }

  async emit<T>(spec: AgentSpec, runId: string, outputId: string, payload: T, publish?: () => Promise<void>): Promise<EmitResult> {
    const { breaker, windows, metrics } = this.options;
    // Counted first, duplicates too (a loop repeating itself trips); only an admitted output claims its content, so
    // a refused one never holds a claim that an identical admitted output was told is taken.
    const admission = await breaker.admitOutput(runId, outputId, { agentId: spec.id, limit: spec.breaker }, this.options.pipelineLimit);
    if (!admission.admitted) {
      if (admission.epochChanged) throw new ContentionError(`${spec.id}: output ${outputId}: ${admission.detail}; try again`);
      this.refused(spec.id, outputId, admission.detail);
    }
    const claim = await windows.claim(spec.id, contentHash(payload), spec.duplicateWindowMinutes);
    if (!claim.claimed) {
      metrics?.count('DuplicatesSuppressed');
      return { published: false, reason: 'duplicate' };
    }
    if (publish) {
      try {
        await publish();
      } catch (error) {
        await claim.release();
        throw error;
      }
    }
    metrics?.count('OutputsPublished');
    return { published: true };
  }

  /** Adds model tokens to the agent's daily spend; past the budget, trips the breaker with reason `budget`. */
  async reportTokens(spec: AgentSpec, tokens: number): Promise<number> {
    if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError(`${spec.id}: token count must be a whole number ≥ 0, got ${tokens}`);
    const spent = await this.options.windows.addTokens(spec.id, tokens);
    if (spec.tokenBudgetPerDay !== undefined && spent > spec.tokenBudgetPerDay) {
      await this.tripBudget(spec, `${spec.id} spent ${spent} tokens today; its budget is ${spec.tokenBudgetPerDay}`);
      throw new BreakerOpenError(`${spec.id}: token budget spent (${spent} of ${spec.tokenBudgetPerDay})`);
    }
    return spent;
  }

  /**
   * Reserves a model call's worst case (its counted input plus `maxTokens`) before it is sent. If the agent's
   * remaining daily budget cannot cover it, the call is never sent: the breaker trips with reason `budget` (one
   * alert) and {@link BreakerOpenError} is thrown. Returns the settle function to call with the real usage, or
   * with 0 if the call failed. Without a budget, nothing is reserved and settling just adds the usage.
   */
  async reserveTokens(spec: AgentSpec, estimate: number): Promise<(actual: number) => Promise<void>> {
    const { windows, metrics } = this.options;
    const budget = spec.tokenBudgetPerDay;
    if (budget === undefined) return async (actual) => void (actual > 0 && (await windows.addTokens(spec.id, actual)));
    const reservation = estimate > budget ? undefined : await windows.reserveTokens(spec.id, estimate, budget);
    if (!reservation?.reserved) {
      metrics?.count('ModelCallsRefused');
      const left = reservation ? `has ${Math.max(0, budget - reservation.used)} of its ${budget} daily tokens left` : `has a daily budget of ${budget} tokens`;
      const detail = `${spec.id} ${left}; a model call needing up to ${estimate} was refused before it was sent`;
      await this.tripBudget(spec, detail);
      throw new BreakerOpenError(`${spec.id}: ${detail}`);
    }
    return async (actual) => {
      const spent = await windows.addTokens(spec.id, actual - estimate, reservation.day);
      // The provider's tokenizer can count more input than ours estimated: over budget after the fact trips too.
      if (spent > budget) await this.tripBudget(spec, `${spec.id} spent ${spent} tokens on ${reservation.day}; its budget is ${budget}`);
    };
  }

  private async tripBudget(spec: AgentSpec, detail: string): Promise<void> {
    await this.options.breaker.trip({ reason: 'budget', agentId: spec.id, detail });
  }

  private refused(agentId: string, outputId: string, why: string): never {
    this.options.metrics?.count('OutputsRefused');
    throw new BreakerOpenError(`${agentId}: output ${outputId} refused: ${why}`);
  }
}

/** SHA-256 of the payload's JSON with object keys sorted, so equal content hashes equally. */
export function contentHash(payload: unknown): string {
  return createHash('sha256').update(stableJson(payload)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
