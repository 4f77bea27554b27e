import { NotConfiguredError } from '../../errors.ts';
import type { AgentSpec } from '../../config/agent-spec.ts';
import type { OutputGuard } from '../breaker/output-guard.ts';
import type { MetricsSink } from '../metrics.ts';
import { tokenCounter } from '../tokens.ts';
import { type ModelCall, type ModelProvider, type ModelResponse, type ModelUsage, composePrompt, totalTokens } from './model.ts';

/**
 * Our tokenizer (cl100k) counts English prose up to ~20% below the Claude and Titan tokenizers, so the reservation
 * made before a call scales the counted input by this much: a call is refused up front rather than discovered over.
 */
export const INPUT_ESTIMATE_MARGIN = 1.2;

/** Model usage a run has metered. */
export interface ModelUsageTally extends ModelUsage {
  readonly calls: number;
}

export interface RunModelDeps {
  readonly spec: AgentSpec;
  /** @default - the agent cannot call a model */
  readonly provider?: ModelProvider;
  /** Reserves and settles tokens against the agent's budget. @default - usage is only tallied */
  readonly outputs?: OutputGuard;
  readonly metrics?: MetricsSink;
  readonly signal: AbortSignal;
  /** Epoch ms of the run's current lease expiry: no retry waits past it. */
  readonly deadline: () => number;
}

/**
 * The model as one run sees it (`ctx.model`): every call is reserved against the agent's daily token budget before
 * it is sent (refused, with a budget trip, if the budget cannot cover its worst case), then settled with the usage
 * the response reported, and counted in metrics and the run's outcome.
 */
export class RunModel {
  private readonly tally = { calls: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

  constructor(private readonly deps: RunModelDeps) {}

  /** What this run's calls have used so far. */
  get usage(): ModelUsageTally {
    return { ...this.tally };
  }

  /** Calls the agent's model with the system prompt, the retrieved context and the task. */
  async converse(call: ModelCall): Promise<ModelResponse> {
    const { spec, provider, outputs, metrics, signal } = this.deps;
    if (!spec.model || !provider) {
      throw new NotConfiguredError(`${spec.id}: no model is configured; set agents[].model.id for '${spec.id}' in the pipeline config`);
    }
    const maxTokens = call.maxTokens ?? spec.model.maxTokens;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`${spec.id}: maxTokens must be a whole number ≥ 1, got ${maxTokens}`);
    signal.throwIfAborted();
    const system = call.system ?? '';
    const prompt = composePrompt(call);
    const countTokens = await tokenCounter();
    const estimate = Math.ceil((countTokens(system) + countTokens(prompt)) * INPUT_ESTIMATE_MARGIN) + maxTokens;
    const settle = outputs ? await outputs.reserveTokens(spec, estimate) : undefined;
    let response: ModelResponse;
    try {
      response = await provider.converse({
        modelId: spec.model.id,
        system,
        prompt,
        maxTokens,
        ...(call.temperature === undefined ? {} : { temperature: call.temperature }),
        signal,
        deadline: this.deps.deadline(),
      });
    } catch (error) {
      metrics?.count('ModelCallsFailed');
      await settle?.(0);
      throw error;
    }
    const { usage } = response;
    await settle?.(totalTokens(usage));
    this.tally.calls++;
    this.tally.inputTokens += usage.inputTokens;
    this.tally.outputTokens += usage.outputTokens;
    this.tally.cacheReadTokens += usage.cacheReadTokens;
    this.tally.cacheWriteTokens += usage.cacheWriteTokens;
    metrics?.count('ModelCalls');
    metrics?.count('ModelInputTokens', usage.inputTokens);
    metrics?.count('ModelOutputTokens', usage.outputTokens);
    metrics?.count('ModelCacheReadTokens', usage.cacheReadTokens);
    return response;
  }
}
