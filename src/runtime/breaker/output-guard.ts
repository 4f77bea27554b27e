import { createHash } from 'node:crypto';
import type { AgentSpec } from '../../config/agent-spec.ts';
import { ContentionError } from '../../errors.ts';
import type { MetricsSink } from '../metrics.ts';
import { type Admission, BreakerOpenError, type BreakerPort, type PipelineLimit, type Trip } from './breaker.ts';
import type { OutputWindows } from './output-window.ts';

export type EmitResult = { readonly published: true } | { readonly published: false; readonly reason: 'duplicate' };

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
 * What stands between an agent's output and its side effect. Before `publish` runs, the output is counted in the
 * agent's window and its content claimed (one update); the output that crosses the agent's limit trips the breaker
 * and goes no further, so the pipeline's window never counts it. An output the agent's window admitted is then
 * counted in the pipeline's window in the conditional update that checks the breaker admits it; the output that
 * crosses the pipeline's limit trips the breaker instead of publishing. An output whose content the agent already
 * published within its duplicate window is suppressed (and still counted, so a loop repeating itself trips). So
 * output N+1 is never published, and identical content is published once, for three store calls per output (the
 * third: the breaker function's own count of the caller, `VerifiedCounts`, which no agent role may write).
 *
 * Under concurrency the agent's window decides: its counting update orders the agent's outputs (each gets a
 * sequence number in it), and the trip by output N+1 records that number, so the N outputs counted before it are
 * still admitted by the pipeline step after the trip: exactly N publish, and the trip names the agent.
 */
export class OutputGuard {
  constructor(private readonly options: OutputGuardOptions) {}

  admit(runId: string): Promise<Admission> {
    return this.options.breaker.admit(runId);
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
    const content = { hash: contentHash(payload), duplicateWindowMinutes: spec.duplicateWindowMinutes };
    for (let attempt = 1; ; attempt++) {
      const epoch = breaker.countingEpoch;
      const agent = await windows.count(spec.id, epoch, outputId, spec.breaker.windowMinutes, content);
      if (agent.count > spec.breaker.maxOutputs) {
        await agent.release();
        const trip = await this.trip({
          reason: 'outputs',
          agentId: spec.id,
          detail: `${spec.id} produced ${agent.count} outputs in the last ${spec.breaker.windowMinutes} minutes; the limit is ${spec.breaker.maxOutputs}`,
          recentOutputIds: agent.outputIds,
          outputSequence: agent.sequence,
          epoch,
        });
        if (trip === 'stale epoch' && attempt < 3) continue;
        this.refused(spec.id, outputId, `${spec.id} produced ${agent.count} outputs in the last ${spec.breaker.windowMinutes} minutes; the limit is ${spec.breaker.maxOutputs}`);
      }
      const pipeline = await breaker.admitOutput(runId, outputId, { agentId: spec.id, epoch, sequence: agent.sequence }, this.options.pipelineLimit);
      if (!pipeline.admitted) {
        await agent.release();
        if (pipeline.epochChanged) {
          // A reset since this process last looked: count again, in the agent's window too, in the new epoch.
          if (attempt < 3) continue;
          throw new ContentionError(`breaker epoch kept changing while counting output ${outputId}; try again`);
        }
        this.refused(spec.id, outputId, pipeline.detail);
      }
      if (!agent.claimed) {
        metrics?.count('DuplicatesSuppressed');
        return { published: false, reason: 'duplicate' };
      }
      if (publish) {
        try {
          await publish();
        } catch (error) {
          await agent.release();
          throw error;
        }
      }
      metrics?.count('OutputsPublished');
      return { published: true };
    }
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

  /** Trips the breaker; says whether the trip was moot because a reset started a new counting epoch meanwhile. */
  private async trip(trip: Trip): Promise<'tripped' | 'already open' | 'stale epoch'> {
    const { breaker } = this.options;
    if (await breaker.trip(trip)) return 'tripped';
    return breaker.countingEpoch !== trip.epoch ? 'stale epoch' : 'already open';
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
