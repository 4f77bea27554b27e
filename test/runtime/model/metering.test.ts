import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { AgentSpec } from '../../../src/config/agent-spec.ts';
import { BreakerOpenError } from '../../../src/runtime/breaker/breaker.ts';
import { runAgent } from '../../../src/runtime/run-lifecycle.ts';
import type { ModelProvider, ProviderRequest } from '../../../src/runtime/model/model.ts';
import { OfflineProvider } from '../../../src/runtime/model/offline.ts';
import { INPUT_ESTIMATE_MARGIN } from '../../../src/runtime/model/run-model.ts';
import { tokenCounter } from '../../../src/runtime/tokens.ts';
import { alertsPublished, freshBreaker } from '../../support/breaker.ts';

const countTokens = await tokenCounter();

function agent(tokenBudgetPerDay?: number): AgentSpec {
  return {
    id: `writer-${randomUUID().slice(0, 8)}`,
    leaseMinutes: 15,
    heartbeatIntervalMinutes: 5,
    upstream: [],
    breaker: { maxOutputs: 100, windowMinutes: 60 },
    duplicateWindowMinutes: 60,
    model: { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', maxTokens: 500 },
    ...(tokenBudgetPerDay === undefined ? {} : { tokenBudgetPerDay }),
  };
}

/** A provider reporting fixed usage, recording what it was sent. */
function fixedUsage(usage = { inputTokens: 300, outputTokens: 120, cacheReadTokens: 50, cacheWriteTokens: 0 }) {
  const sent: ProviderRequest[] = [];
  const provider: ModelProvider = {
    name: 'fixed',
    converse: async (request) => {
      sent.push(request);
      return { text: 'ok', usage, modelId: request.modelId, stopReason: 'end_turn', attempts: 1 };
    },
  };
  return { provider, sent };
}

const invocationAt = (spec: AgentSpec, ms: number) => ({ agentId: spec.id, scheduledTime: new Date(ms).toISOString(), scheduleArn: 'test', attemptNumber: 0 });

describe('metered model calls', () => {
  it('charges the budget with the usage every response reports, and reports it in the outcome and metrics', async () => {
    // Prepare
    const b = await freshBreaker();
    const spec = agent(10_000);
    const { provider } = fixedUsage();
    // Act
    const outcome = await runAgent({ ...b.deps, model: provider }, spec, invocationAt(spec, b.clock.now()), async (ctx) => {
      await ctx.model.converse({ task: 'one' });
      await ctx.model.converse({ task: 'two' });
    });
    // Assess
    expect(outcome).toMatchObject({ status: 'completed', modelUsage: { calls: 2, inputTokens: 600, outputTokens: 240, cacheReadTokens: 100, cacheWriteTokens: 0 } });
    expect(await b.windows.addTokens(spec.id, 0)).toBe(940); // every reservation settled to what was used
    expect(b.metrics.get('ModelInputTokens')).toBe(600);
    expect(b.metrics.get('ModelOutputTokens')).toBe(240);
    expect(b.metrics.get('ModelCacheReadTokens')).toBe(100);
  });

  it('refuses a call the remaining budget cannot cover before sending it: one budget trip, one alert, the run halted', async () => {
    const b = await freshBreaker();
    const spec = agent(1_400);
    const { provider, sent } = fixedUsage({ inputTokens: 600, outputTokens: 400, cacheReadTokens: 0, cacheWriteTokens: 0 });
    const outcome = await runAgent({ ...b.deps, model: provider }, spec, invocationAt(spec, b.clock.now()), async (ctx) => {
      await ctx.model.converse({ task: 'first' }); // reserves 500 + a few, settles at the 1,000 reported
      await ctx.model.converse({ task: 'second' }); // needs 500 + a few of the 400 left
    });
    expect(sent).toHaveLength(1);
    expect(outcome).toMatchObject({ status: 'halted', reason: expect.stringMatching(/refused before it was sent/), modelUsage: { calls: 1 } });
    expect((await b.breaker.state()).status).toBe('OPEN');
    expect(alertsPublished()).toHaveLength(1);
    expect(alertsPublished()[0]!.Message).toMatch(/budget/);
    expect(await b.windows.addTokens(spec.id, 0)).toBe(1_000); // the refused call reserved nothing
  });

  it('reserves the worst case: the counted prompt with its margin plus maxTokens', async () => {
    const b = await freshBreaker();
    const task = 'Summarise the night in three sentences.';
    const needed = Math.ceil((countTokens('sys') + countTokens(task)) * INPUT_ESTIMATE_MARGIN) + 500;
    const fits = agent(needed);
    const { provider, sent } = fixedUsage({ inputTokens: 10, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0 });
    await runAgent({ ...b.deps, model: provider }, fits, invocationAt(fits, b.clock.now()), (ctx) => ctx.model.converse({ system: 'sys', task }));
    expect(sent).toHaveLength(1);
    const short = agent(needed - 1);
    const outcome = await runAgent({ ...b.deps, model: provider }, short, invocationAt(short, b.clock.now()), (ctx) => ctx.model.converse({ system: 'sys', task }));
    expect(outcome.status).toBe('halted');
    expect(sent).toHaveLength(1);
  });

  it('lets concurrent runs of one agent never hold more than their budget in flight, and alerts once', async () => {
    const b = await freshBreaker();
    const spec = agent(10_000);
    const { provider } = fixedUsage({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let inFlight = 0;
    let maxInFlight = 0;
    const slow: ModelProvider = {
      name: 'slow',
      converse: async (r) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await hold;
        inFlight--;
        return provider.converse(r);
      },
    };
    // Each call reserves its worst case; while calls are held in flight, at most budget / estimate of them fit.
    const estimate = Math.ceil(countTokens('x'.repeat(40)) * INPUT_ESTIMATE_MARGIN) + 900;
    const fit = Math.floor(10_000 / estimate);
    const runs = Array.from({ length: 20 }, (_, i) =>
      runAgent({ ...b.deps, model: slow }, spec, invocationAt(spec, b.clock.now() + i * 60_000), (ctx) => ctx.model.converse({ task: 'x'.repeat(40), maxTokens: 900 })),
    );
    await vi.waitFor(() => {
      expect(b.metrics.get('ModelCallsRefused')).toBeGreaterThan(0);
      expect(inFlight).toBe(fit);
    });
    release();
    await Promise.all(runs);
    // Settled reservations free budget again, so a late run may still get its call in: never more than fit at once.
    expect(maxInFlight).toBe(fit);
    expect(alertsPublished()).toHaveLength(1);
  });

  it('gives the reservation back when the call fails', async () => {
    const b = await freshBreaker();
    const spec = agent(5_000);
    const failing: ModelProvider = { name: 'down', converse: async () => Promise.reject(new Error('bedrock is down')) };
    await expect(runAgent({ ...b.deps, model: failing }, spec, invocationAt(spec, b.clock.now()), (ctx) => ctx.model.converse({ task: 't' }))).rejects.toThrow('bedrock is down');
    expect(await b.windows.addTokens(spec.id, 0)).toBe(0);
    expect(b.metrics.get('ModelCallsFailed')).toBe(1);
  });

  it('says which agent has no model configured and where to set it', async () => {
    const b = await freshBreaker();
    const { model: _, ...spec } = agent();
    await expect(runAgent({ ...b.deps, model: new OfflineProvider() }, spec, invocationAt(spec as AgentSpec, b.clock.now()), (ctx) => ctx.model.converse({ task: 't' }))).rejects.toThrow(
      `${spec.id}: no model is configured; set agents[].model.id for '${spec.id}' in the pipeline config`,
    );
  });

  it('throws BreakerOpenError to the work, which ends the run as halted', async () => {
    const b = await freshBreaker();
    const spec = agent(100); // less than maxTokens: nothing can ever be sent
    let thrown: unknown;
    await runAgent({ ...b.deps, model: new OfflineProvider() }, spec, invocationAt(spec, b.clock.now()), async (ctx) => {
      try {
        await ctx.model.converse({ task: 't' });
      } catch (error) {
        thrown = error;
        throw error;
      }
    });
    expect(thrown).toBeInstanceOf(BreakerOpenError);
  });
});

describe('offline provider', () => {
  const request = (prompt: string, system = 'You are terse.'): ProviderRequest => ({
    modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    system,
    prompt,
    maxTokens: 80,
    signal: new AbortController().signal,
    deadline: Number.MAX_SAFE_INTEGER,
  });

  it('answers the same request the same way, within maxTokens, counting usage with the shared tokenizer', async () => {
    const prompt = '<context>\n## rules/style\nPlain English.\n\n</context>\n\nWrite about leases.';
    const first = await new OfflineProvider().converse(request(prompt));
    const again = await new OfflineProvider().converse(request(prompt));
    expect(again).toEqual(first);
    expect(first.text).toMatch(/^\[offline anthropic\.claude-3-5-haiku-20241022-v1:0\] Write about leases\. \(drawing on rules\/style\)/);
    expect(first.usage.outputTokens).toBe(countTokens(first.text));
    expect(first.usage.outputTokens).toBeLessThanOrEqual(80);
    expect(first.usage.inputTokens).toBe(countTokens('You are terse.') + countTokens(prompt));
  });

  it('reports a system prompt it has seen before as cache reads, as Bedrock reports prompt-cache hits', async () => {
    const provider = new OfflineProvider();
    await provider.converse(request('one'));
    const second = await provider.converse(request('two'));
    expect(second.usage.cacheReadTokens).toBe(countTokens('You are terse.'));
    expect(second.usage.inputTokens).toBe(countTokens('two'));
  });
});
