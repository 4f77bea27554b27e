import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { simulate } from '../../local/runner.ts';
import { formatSummary } from '../../local/summary.ts';
import { type PipelineInput, definePipeline } from '../../src/config/pipeline.ts';

const entry = 'test/fixtures/agents/causal.ts';
const memory = { reads: ['chain'], writes: ['chain'] };

/** collector (every 2 hours) → summarizer (each of its outputs) → notifier (each summary). */
const chain = definePipeline({
  name: 'causal',
  stage: 'test',
  agents: [
    { id: 'collector', entry, memory, schedules: [{ cron: '0 */2 * * *' }], breaker: { maxOutputs: 4, windowMinutes: 60 } },
    { id: 'summarizer', entry, memory, triggers: [{ outputsOf: 'collector', waitForMemorySeconds: 90 }], breaker: { maxOutputs: 4, windowMinutes: 60 } },
    { id: 'notifier', entry, memory, triggers: [{ outputsOf: 'summarizer' }], breaker: { maxOutputs: 4, windowMinutes: 60 } },
  ],
  breaker: { maxOutputs: 40, windowMinutes: 60 },
  // The chain reads its memory by key, never by meaning: no embedder (the offline model is most of a simulation's time).
  embeddings: false,
} satisfies PipelineInput);

const run = (injected: string[], hours: number) =>
  simulate({ pipeline: chain, scenario: 'normal', inject: injected, hours, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `causal-${randomUUID().slice(0, 8)}` });

describe('causality: a run started by an output sees what its upstream wrote before it', () => {
  it('over a simulated day, with the steward stalled for an hour, no run reads stale memory without running degraded, and each wait is printed', async () => {
    const result = await run(['stall:steward@06:00-07:00'], 24);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    // No run failed (a run that read stale memory undegraded throws), and every output ran its downstream.
    expect(result.runs.filter((r) => r.status === 'fail' || r.status === 'crash')).toEqual([]);
    const collected = result.published.filter((p) => p.agentId === 'collector').length;
    expect(collected).toBeGreaterThanOrEqual(12);
    const triggered = result.runs.filter((r) => r.trigger?.kind === 'output' && r.status === 'completed');
    expect(triggered.length).toBe(2 * collected); // each collector output summarized, each summary notified
    // Every triggered run waited for its upstream's three updates.
    for (const r of triggered) expect(r.memoryWait).toMatchObject({ awaited: 3 });
    // Outside the stall each found everything; during it the 06:00 summary and its notifier waited their bound
    // (90 s; the default 120 s) and ran degraded, saying so.
    const stale = triggered.filter((r) => r.memoryWait!.pending > 0);
    expect(stale.map((r) => [r.agentId, r.degraded, Math.round(r.memoryWait!.waitedMs / 1000)])).toEqual([
      ['summarizer', true, 90],
      ['notifier', true, 120],
    ]);
    // The notifier's run was started by the degraded summary: it says so too.
    expect(result.events.some((e) => e.agentId === 'notifier' && e.kind === 'degraded' && e.detail.includes("started by summarizer's output") && e.detail.includes('published by a degraded run'))).toBe(true);
    const calm = triggered.filter((r) => r.memoryWait!.pending === 0);
    expect(calm.every((r) => !r.degraded && r.memoryWait!.waitedMs < 5_000)).toBe(true);
    const stallCheck = result.checks.find((c) => c.name.startsWith('stall:steward@06:00-07:00'));
    expect(stallCheck?.status).toBe('PASS');
    const summary = formatSummary(result);
    expect(summary).toContain(`memory waits (each run started by an output, before its work, for the updates its upstream's run queued): ${2 * collected}`);
    expect(summary).toMatch(/summarizer at 06:0\d:\d\d: waited 90\.\d s for 3 of collector's update\(s\); 3 still pending: ran degraded/);
  });
});
