import type { RetrievedContext } from '../memory/retrieval.ts';
import { renderContext } from '../memory/context-index.ts';
import { NightshiftError } from '../../errors.ts';

/**
 * Model calls as agents make them. A call takes the system prompt, the task and the retrieved context, and comes
 * back with text and the token usage the provider reported. Providers: Amazon Bedrock (Converse API) in the cloud,
 * an offline, deterministic one locally. The guard meters every call into the agent's daily token budget.
 */

/** What an agent asks a model. */
export interface ModelCall {
  /** Standing instructions. @default '' */
  readonly system?: string;
  /** What to do now. */
  readonly task: string;
  /** Retrieved memory (`ctx.retrieve(...)`), placed before the task; or already rendered text. @default - none */
  readonly context?: Pick<RetrievedContext, 'entries'> | string;
  /** Most output tokens. @default the agent's `model.maxTokens` */
  readonly maxTokens?: number;
  /** @default - the model's own */
  readonly temperature?: number;
}

/** What a provider sends: the call resolved against the agent's model, with the run's signal and deadline. */
export interface ProviderRequest {
  readonly modelId: string;
  readonly system: string;
  /** Context and task, as the user turn. */
  readonly prompt: string;
  readonly maxTokens: number;
  readonly temperature?: number;
  /** Aborts the call (and any wait before a retry) when the run loses its lease. */
  readonly signal: AbortSignal;
  /** Epoch ms no retry may wait past: the run's lease expiry. */
  readonly deadline: number;
}

/** Token usage as the provider reported it. `inputTokens` excludes tokens read from or written to the cache. */
export interface ModelUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

export interface ModelResponse {
  readonly text: string;
  readonly usage: ModelUsage;
  readonly modelId: string;
  readonly stopReason: string;
  /** Requests sent, retries included. */
  readonly attempts: number;
}

/** Sends one request to a model. */
export interface ModelProvider {
  /** `bedrock` or `offline`: shown in summaries and logs. */
  readonly name: string;
  converse(request: ProviderRequest): Promise<ModelResponse>;
}

/** Every token a response counts against a budget. */
export function totalTokens(usage: ModelUsage): number {
  return usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

/** The user turn: the retrieved context, then the task. */
export function composePrompt(call: Pick<ModelCall, 'task' | 'context'>): string {
  const context = typeof call.context === 'string' ? call.context : call.context ? renderContext(call.context) : '';
  return context ? `<context>\n${context}</context>\n\n${call.task}` : call.task;
}

/** The model could not be reached in time: throttled until the deadline, or failed for good. */
export class ModelCallError extends NightshiftError {
  override readonly name = 'ModelCallError';
  constructor(
    message: string,
    readonly modelId: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
