import { setTimeout as delay } from 'node:timers/promises';
import { type BedrockRuntimeClient, ConverseCommand, type ConverseCommandOutput } from '@aws-sdk/client-bedrock-runtime';
import type { Clock } from '../clock.ts';
import { ModelCallError, type ModelProvider, type ModelResponse, type ProviderRequest } from './model.ts';

/** Errors worth another attempt: Bedrock is busy, not the request wrong. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'ServiceUnavailableException',
  'ModelNotReadyException',
  'InternalServerException',
  'ModelTimeoutException',
]);

export interface BedrockProviderOptions {
  /** Build it with `maxAttempts: 1`: this provider does the retrying, bounded by the run's deadline. */
  readonly client: BedrockRuntimeClient;
  readonly clock: Clock;
  /** Attempts per call at most. @default 6 */
  readonly maxAttempts?: number;
  /** First backoff; doubles each retry, full jitter. @default 500 ms */
  readonly baseDelayMs?: number;
  /** @default 20 s */
  readonly maxDelayMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /**
   * What to send as the Converse `modelId`: the agent's own application inference profile ARN, over the configured
   * model (which usage, prices and errors keep naming). @default - the request's model id
   */
  readonly invokeAs?: string;
  /** Waits before a retry; rejects when the signal aborts. @default node:timers/promises setTimeout */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Amazon Bedrock through the Converse API: one request shape for every model family, usage (input, output, cache
 * read and write tokens) in every response. Throttling and transient service errors are retried with exponential
 * backoff and full jitter, but a wait that would end past the run's deadline (its lease) is not started: the call
 * fails with {@link ModelCallError} instead, while the run can still end cleanly. The run's signal aborts the
 * request in flight and any wait.
 */
export class BedrockProvider implements ModelProvider {
  readonly name = 'bedrock';

  constructor(private readonly options: BedrockProviderOptions) {}

  async converse(request: ProviderRequest): Promise<ModelResponse> {
    const { client, clock } = this.options;
    const maxAttempts = this.options.maxAttempts ?? 6;
    const sleep = this.options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    const command = new ConverseCommand({
      modelId: this.options.invokeAs ?? request.modelId,
      ...(request.system ? { system: [{ text: request.system }] } : {}),
      messages: [{ role: 'user', content: [{ text: request.prompt }] }],
      inferenceConfig: {
        maxTokens: request.maxTokens,
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      },
    });
    for (let attempt = 1; ; attempt++) {
      request.signal.throwIfAborted();
      let output: ConverseCommandOutput;
      try {
        output = await client.send(command, { abortSignal: request.signal });
      } catch (error) {
        request.signal.throwIfAborted();
        const name = error instanceof Error ? error.name : '';
        if (!RETRYABLE.has(name)) throw error;
        const wait = this.backoff(attempt);
        if (attempt >= maxAttempts || clock.now() + wait >= request.deadline) {
          throw new ModelCallError(
            `${request.modelId}: ${name} after ${attempt} attempt(s); ` +
              (attempt >= maxAttempts ? 'giving up' : 'another wait would outlive the run’s lease'),
            request.modelId,
            attempt,
            { cause: error },
          );
        }
        await sleep(wait, request.signal);
        continue;
      }
      const usage = output.usage;
      return {
        text: (output.output?.message?.content ?? []).map((block) => block.text ?? '').join(''),
        usage: {
          inputTokens: usage?.inputTokens ?? 0,
          outputTokens: usage?.outputTokens ?? 0,
          cacheReadTokens: usage?.cacheReadInputTokens ?? 0,
          cacheWriteTokens: usage?.cacheWriteInputTokens ?? 0,
        },
        modelId: request.modelId,
        stopReason: output.stopReason ?? 'unknown',
        attempts: attempt,
      };
    }
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.options.maxDelayMs ?? 20_000, (this.options.baseDelayMs ?? 500) * 2 ** (attempt - 1));
    return Math.round((this.options.random ?? Math.random)() * ceiling);
  }
}
