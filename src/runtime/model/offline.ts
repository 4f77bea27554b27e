import { createHash } from 'node:crypto';
import { type TokenCounter, tokenCounter } from '../tokens.ts';
import type { ModelProvider, ModelResponse, ProviderRequest } from './model.ts';

/**
 * OFFLINE: no model is called. The provider local mode and tests use in place of Bedrock: deterministic (the same
 * request gives the same text and usage), free, instant. Its text is an echo of the task and the context keys it
 * was given, padded with words from the prompt to an output length derived from a hash of the request, never more
 * than `maxTokens`. Usage is counted with the same tokenizer as retrieval and the budget check, and a system prompt
 * it has seen before is reported as cache reads, as Bedrock reports prompt-cache hits.
 */
export class OfflineProvider implements ModelProvider {
  readonly name = 'offline';
  private readonly cachedSystemPrompts = new Set<string>();

  constructor(private readonly options: { outputTokens?: (request: ProviderRequest) => number } = {}) {}

  async converse(request: ProviderRequest): Promise<ModelResponse> {
    request.signal.throwIfAborted();
    const countTokens = await tokenCounter();
    const systemTokens = countTokens(request.system);
    const cached = systemTokens > 0 && this.cachedSystemPrompts.has(request.system);
    this.cachedSystemPrompts.add(request.system);
    const digest = createHash('sha256').update(`${request.modelId}\n${request.system}\n${request.prompt}`).digest();
    const target = Math.min(request.maxTokens, this.options.outputTokens?.(request) ?? 48 + (digest.readUInt16BE(0) % 208));
    const text = compose(request, target, digest, countTokens);
    return {
      text,
      usage: {
        inputTokens: (cached ? 0 : systemTokens) + countTokens(request.prompt),
        outputTokens: countTokens(text),
        cacheReadTokens: cached ? systemTokens : 0,
        cacheWriteTokens: 0,
      },
      modelId: request.modelId,
      stopReason: 'end_turn',
      attempts: 1,
    };
  }
}

function compose(request: ProviderRequest, targetTokens: number, digest: Buffer, countTokens: TokenCounter): string {
  const task = request.prompt.split('\n').filter((line) => line.trim()).at(-1) ?? '';
  const sources = [...request.prompt.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
  const words = request.prompt.match(/[\p{L}\p{N}]{4,}/gu) ?? ['offline'];
  let text = `[offline ${request.modelId}] ${task.slice(0, 200)}${sources.length ? ` (drawing on ${sources.join(', ')})` : ''}.`;
  if (countTokens(text) > targetTokens) return trimToTokens(text, targetTokens, countTokens);
  for (let i = 0; ; i += 8) {
    const next = `${text} ${Array.from({ length: 8 }, (_, j) => words[(digest[(i + j) % digest.length]! + i + j) % words.length]).join(' ')}`;
    if (countTokens(next) > targetTokens) return text;
    text = next;
  }
}

function trimToTokens(text: string, tokens: number, countTokens: TokenCounter): string {
  let cut = text;
  while (cut.length > 0 && countTokens(cut) > tokens) cut = cut.slice(0, Math.floor(cut.length * 0.9));
  return cut;
}
