import { BedrockRuntimeClient, ConverseCommand, ThrottlingException, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { BedrockProvider } from '../../../src/runtime/model/bedrock.ts';
import { ModelCallError, type ProviderRequest } from '../../../src/runtime/model/model.ts';

const bedrock = mockClient(BedrockRuntimeClient);
// Files share one process (vitest `isolate: false`): the stubbed client must not outlive this file.
afterAll(() => bedrock.restore());
beforeEach(() => bedrock.reset());

const MODEL = 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';
const throttled = () => new ThrottlingException({ message: 'Too many requests', $metadata: {} });
const reply = (text: string) => ({
  output: { message: { role: 'assistant' as const, content: [{ text }] } },
  stopReason: 'end_turn' as const,
  usage: { inputTokens: 120, outputTokens: 40, totalTokens: 185, cacheReadInputTokens: 20, cacheWriteInputTokens: 5 },
  metrics: { latencyMs: 300 },
});

function setup(options: { deadlineInMs?: number; maxAttempts?: number; invokeAs?: string } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 3, 0));
  const waits: number[] = [];
  const provider = new BedrockProvider({
    client: new BedrockRuntimeClient({ region: 'us-east-1', maxAttempts: 1 }),
    clock,
    random: () => 1, // the top of each jitter window: the longest waits, the strictest deadline check
    sleep: async (ms) => {
      waits.push(ms);
      await clock.advance(ms);
    },
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.invokeAs ? { invokeAs: options.invokeAs } : {}),
  });
  const controller = new AbortController();
  const request: ProviderRequest = {
    modelId: MODEL,
    system: 'You write articles.',
    prompt: '<context>\n## rules/style\nPlain English.\n\n</context>\n\nWrite about fencing tokens.',
    maxTokens: 512,
    temperature: 0.2,
    signal: controller.signal,
    deadline: clock.now() + (options.deadlineInMs ?? 15 * 60_000),
  };
  return { provider, request, controller, waits, clock };
}

describe('Bedrock provider (Converse API)', () => {
  it('sends the system prompt, the user turn and the inference config, and reads text and every usage field', async () => {
    // Prepare
    const { provider, request } = setup();
    bedrock.on(ConverseCommand).resolves(reply('Fencing tokens stop a paused writer.'));
    // Act
    const response = await provider.converse(request);
    // Assess
    expect(bedrock.commandCalls(ConverseCommand)[0]!.args[0].input).toEqual({
      modelId: MODEL,
      system: [{ text: 'You write articles.' }],
      messages: [{ role: 'user', content: [{ text: request.prompt }] }],
      inferenceConfig: { maxTokens: 512, temperature: 0.2 },
    });
    expect(response).toEqual({
      text: 'Fencing tokens stop a paused writer.',
      usage: { inputTokens: 120, outputTokens: 40, cacheReadTokens: 20, cacheWriteTokens: 5 },
      modelId: MODEL,
      stopReason: 'end_turn',
      attempts: 1,
    });
  });

  it("sends every call to the agent's own inference profile when deployed with one, and still names the configured model", async () => {
    const profile = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123def456';
    const { provider, request } = setup({ invokeAs: profile });
    bedrock.on(ConverseCommand).resolves(reply('ok'));
    const response = await provider.converse(request);
    expect(bedrock.commandCalls(ConverseCommand).map((c) => c.args[0].input.modelId)).toEqual([profile]);
    expect(response.modelId).toBe(MODEL);
  });

  it('retries throttling with exponential backoff and reports the attempts', async () => {
    const { provider, request, waits } = setup();
    bedrock.on(ConverseCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves(reply('ok'));
    const response = await provider.converse(request);
    expect(response.attempts).toBe(3);
    expect(waits).toEqual([500, 1_000]);
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(3);
  });

  it('never waits past the run’s deadline: it fails with the reason while the lease still holds', async () => {
    const { provider, request, waits, clock } = setup({ deadlineInMs: 1_200 });
    bedrock.on(ConverseCommand).rejects(throttled());
    const failure = provider.converse(request);
    await expect(failure).rejects.toBeInstanceOf(ModelCallError);
    await expect(failure).rejects.toThrow(/ThrottlingException after 2 attempt\(s\); another wait would outlive the run’s lease/);
    expect(waits).toEqual([500]);
    expect(clock.now()).toBeLessThan(request.deadline);
  });

  it('gives up after its attempts', async () => {
    const { provider, request } = setup({ maxAttempts: 3 });
    bedrock.on(ConverseCommand).rejects(throttled());
    await expect(provider.converse(request)).rejects.toThrow(/after 3 attempt\(s\); giving up/);
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(3);
  });

  it('does not retry a request Bedrock refuses as invalid', async () => {
    const { provider, request } = setup();
    bedrock.on(ConverseCommand).rejects(new ValidationException({ message: 'maxTokens too large', $metadata: {} }));
    await expect(provider.converse(request)).rejects.toThrow('maxTokens too large');
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(1);
  });

  it('passes the run’s signal to the request and stops retrying once it fires', async () => {
    const { provider, request, controller } = setup();
    bedrock.on(ConverseCommand).callsFake(async () => {
      controller.abort(new Error('lease lost'));
      throw throttled();
    });
    await expect(provider.converse(request)).rejects.toThrow('lease lost');
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(1);
    // The mock records what `send` was given: the command, then the options with the run's signal.
    expect((bedrock.commandCalls(ConverseCommand)[0]!.args as unknown[])[1]).toMatchObject({ abortSignal: request.signal });
  });

  it('sends nothing when the signal has already fired', async () => {
    const { provider, request, controller } = setup();
    controller.abort(new Error('lease lost'));
    await expect(provider.converse(request)).rejects.toThrow('lease lost');
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(0);
  });
});
