import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { NightshiftStack } from '../../lib/nightshift-stack.ts';
import { loadAgentModule } from '../../local/agent-module.ts';
import { BREAKER_FUNCTION, agentFunction } from '../../local/pipeline.ts';
import { LocalPipeline } from '../../local/pipeline.ts';
import { localReview } from '../../local/review.ts';
import { type SimulationResult, simulate } from '../../local/runner.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { decideHeld, expireHeld } from '../../src/runtime/review/decisions.ts';
import type { HeldOutput } from '../../src/runtime/review/held-outputs.ts';
import { reviewPipeline } from '../fixtures/review-pipeline.ts';
import { causalChain } from '../fixtures/causal-chain.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { checkCalls, resourceMap } from '../support/iam.ts';
import { logicalId, testApp } from '../support/template.ts';

const HOUR = 60 * 60_000;
const pipeline = reviewPipeline('review');
const prefix = `review-${randomUUID().slice(0, 8)}`;
let result: SimulationResult;

/**
 * The poster reviews its degraded runs. The writer crashes at 02:00 (the poster's 02:30 run finds its heartbeat stale)
 * and fails at 03:00 (the 03:30 run finds its last run failed): both run degraded.
 */
beforeAll(async () => {
  result = await simulate({ pipeline, scenario: 'normal', inject: ['crash:writer@02:00', 'fail:writer@03:00'], hours: 5, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: prefix });
});

/** The pipeline's state after the run, at `at`, with the decisions' parts. */
async function afterRun(at: number) {
  const clock = new ManualClock(at);
  const local = await LocalPipeline.start({ pipeline, clock, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: prefix });
  const modules = new Map(await Promise.all(pipeline.agents.map(async (a) => [a.id, await loadAgentModule(a)] as const)));
  const deps = localReview(local, modules);
  const posts = async () => ((await local.reader.get('desk', 'posts'))?.value ?? []) as { outputId: string }[];
  return { clock, local, deps, posts };
}

describe('review: outputs held for a person', () => {
  it("holds the degraded runs' outputs, unpublished and still counted, and publishes the others at once", async () => {
    const poster = result.runs.filter((r) => r.agentId === 'poster' && r.status === 'completed');
    const degraded = poster.filter((r) => r.degraded);
    expect(degraded.map((r) => new Date(r.slot).toISOString().slice(11, 16))).toEqual(['02:30', '03:30']);
    expect(result.agents.poster).toMatchObject({ held: degraded.length, published: poster.length - degraded.length });
    const { local, deps, posts } = await afterRun(result.end);
    try {
      const held = await deps.held.list('poster');
      expect(held).toHaveLength(degraded.length);
      for (const output of held) {
        expect(output).toMatchObject({ status: 'held', via: 'post', degraded: true, reasons: [expect.stringMatching(/^degraded: writer/)] });
        expect(output.expiresAt - output.heldAt).toBe(6 * HOUR);
      }
      // What was published went out at once; nothing held did.
      const published = (await posts()).map((p) => p.outputId);
      expect(published).toHaveLength(poster.length - degraded.length);
      expect(published.some((id) => held.some((h) => h.outputId === id))).toBe(false);
    } finally {
      await local.stop();
    }
  });

  it('publishes an approved output exactly once under 20 concurrent approvals, publishes nothing rejected, and records who decided', async () => {
    const { local, deps, posts } = await afterRun(result.end);
    try {
      const [first, second] = (await deps.held.list('poster')).filter((o) => o.status === 'held') as [HeldOutput, HeldOutput];
      expect(second).toBeDefined();
      const beatBefore = await local.heartbeats.last('poster');
      const approvals = await Promise.all(Array.from({ length: 20 }, (_, i) => decideHeld(deps, 'poster', first.outputId, { action: 'approve', by: `person-${i}` })));
      await local.settle();
      // A publishing run is not the agent's work: it leaves the heartbeat (what downstreams and after-trip read) alone.
      expect(await local.heartbeats.last('poster')).toEqual(beatBefore);
      expect((await posts()).filter((p) => p.outputId === first.outputId)).toHaveLength(1);
      const stored = await deps.held.get('poster', first.outputId);
      expect(stored).toMatchObject({ status: 'published', decision: { action: 'approve', by: expect.stringMatching(/^person-\d+$/) } });
      // Whoever lost the race was told who won, or that it was published.
      expect(approvals.filter((a) => a.outcome === 'published').length).toBeGreaterThanOrEqual(1);
      expect(approvals.every((a) => a.outcome === 'published' || a.outcome === 'approved' || /already (approved|published|publishing)/.test(a.detail))).toBe(true);
      // Approving it again publishes nothing more.
      expect(await decideHeld(deps, 'poster', first.outputId, { action: 'approve', by: 'late' })).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('already published') });
      await local.settle();
      expect((await posts()).filter((p) => p.outputId === first.outputId)).toHaveLength(1);

      expect(await decideHeld(deps, 'poster', second.outputId, { action: 'reject', by: 'alice', reason: 'stale draft' })).toMatchObject({ outcome: 'rejected' });
      expect(await decideHeld(deps, 'poster', second.outputId, { action: 'approve', by: 'bob' })).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('already rejected (alice') });
      expect(await deps.held.get('poster', second.outputId)).toMatchObject({ status: 'rejected', decision: { action: 'reject', by: 'alice', reason: 'stale draft' } });
      await local.settle();
      expect((await posts()).some((p) => p.outputId === second.outputId)).toBe(false);
      expect(await decideHeld(deps, 'poster', 'nobody:0', { action: 'approve', by: 'alice' })).toMatchObject({ outcome: 'refused', detail: 'no held output nobody:0 of poster' });

      // IAM by evidence: every call the publishing runs made (the agent's, and the breaker function's for it) is one
      // the synthesized stack allows the function that made it.
      const stack = new NightshiftStack(testApp(), 'review-test', { pipeline });
      const roles = Object.fromEntries([
        ...stack.agents.map((a) => [agentFunction(a.agentId), logicalId(a.function.role!)] as const),
        ['steward', logicalId(stack.memory.steward.role!)] as const,
        [BREAKER_FUNCTION, logicalId(stack.breakerAuthority.function.role!)] as const,
      ]);
      const calls = local.calls.byFunction();
      expect(calls.get(BREAKER_FUNCTION)?.some((c) => c.action === 'UpdateItem' && c.leadingKeys?.includes('held#poster'))).toBe(true);
      expect(checkCalls(Template.fromStack(stack), roles, new Map([...calls].filter(([fn]) => fn in roles)), resourceMap(stack, prefix)).denied).toEqual([]);
    } finally {
      await local.stop();
    }
  });
});

describe('review: expiry and the breaker', () => {
  it('refuses an approval while the breaker is open, deciding nothing; after expiry decides nothing and follows onExpiry', async () => {
    const name = `review-expiry-${randomUUID().slice(0, 6)}`;
    for (const onExpiry of ['discard', 'publish'] as const) {
      const reviewed = reviewPipeline(name, { onExpiry });
      const tablePrefix = `${name}-${onExpiry}`;
      const run = await simulate({ pipeline: reviewed, scenario: 'normal', inject: ['crash:writer@02:00'], hours: 3, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix });
      const clock = new ManualClock(run.end);
      const local = await LocalPipeline.start({ pipeline: reviewed, clock, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix });
      try {
        const modules = new Map(await Promise.all(reviewed.agents.map(async (a) => [a.id, await loadAgentModule(a)] as const)));
        const deps = localReview(local, modules);
        const [held] = await deps.held.list('poster');
        expect(held?.status).toBe('held');

        await local.breaker.trip({ reason: 'outputs', agentId: 'writer', detail: 'a test trip' });
        expect(await decideHeld(deps, 'poster', held!.outputId, { action: 'approve', by: 'alice' })).toMatchObject({ outcome: 'refused', detail: expect.stringMatching(/^the breaker is OPEN .*nothing was decided$/) });
        expect((await deps.held.get('poster', held!.outputId))?.status).toBe('held');
        await local.breaker.reset();

        await clock.advance(6 * HOUR);
        expect(await decideHeld(deps, 'poster', held!.outputId, { action: 'approve', by: 'alice' })).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('expired at') });
        const expired = await expireHeld(deps, 'poster', onExpiry, clock.now());
        expect(expired).toHaveLength(1);
        await local.settle();
        const posts = ((await local.reader.get('desk', 'posts'))?.value ?? []) as { outputId: string }[];
        const stored = await deps.held.get('poster', held!.outputId);
        if (onExpiry === 'discard') {
          expect(stored).toMatchObject({ status: 'expired', decision: { action: 'expire', by: 'expiry' } });
          expect(posts.some((p) => p.outputId === held!.outputId)).toBe(false);
        } else {
          expect(stored).toMatchObject({ status: 'published', decision: { action: 'expire', by: 'expiry' } });
          expect(posts.filter((p) => p.outputId === held!.outputId)).toHaveLength(1);
        }
        // A second pass finds nothing more to expire.
        expect(await expireHeld(deps, 'poster', onExpiry, clock.now())).toEqual([]);
      } finally {
        await local.stop();
      }
    }
  });
});

describe('review: the breaker, and side effects that can run later', () => {
  it('counts held outputs: a loop of them trips the breaker with one alert, and none is published', async () => {
    const looping = reviewPipeline(`review-loop-${randomUUID().slice(0, 6)}`, { when: ['always'] });
    const run = await simulate({ pipeline: looping, scenario: 'normal', inject: ['loop:poster@02:30'], hours: 4, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `review-loop-${randomUUID().slice(0, 8)}` });
    expect(run.alerts).toHaveLength(1);
    expect(run.alerts[0]!.subject).toMatch(/circuit breaker OPEN: poster \(outputs\)/);
    expect(run.breaker).toBe('OPEN');
    expect(run.agents.poster).toMatchObject({ published: 0 });
    // Within the limit of 5 in 60 minutes, every output of the loop was held; the sixth tripped the breaker.
    expect(run.agents.poster!.held).toBeGreaterThanOrEqual(5);
  });

  it("fails a reviewed agent's run whose side effect is a function, or a publisher its module does not export, saying what to do", async () => {
    const base = reviewPipeline(`review-unnamed-${randomUUID().slice(0, 6)}`, { when: ['always'] });
    const unnamed = { ...base, agents: base.agents.map((a) => (a.id === 'poster' ? { ...a, entry: 'test/fixtures/agents/reviewed-unnamed.ts' } : a)) };
    const run = await simulate({ pipeline: unnamed, scenario: 'normal', hours: 2, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `review-unnamed-${randomUUID().slice(0, 8)}` });
    const failed = run.runs.filter((r) => r.agentId === 'poster').map((r) => [r.status, r.reason]);
    expect(failed).toEqual([
      ['fail', expect.stringMatching(/^the 00:30 run failed: poster has a review policy, .*export const publishers = \{ post: .*ctx\.emit\(payload, 'post'\)$/)],
      ['fail', expect.stringContaining("poster: ctx.emit names publisher 'tweet', which the agent module does not export (its publishers: post)")],
    ]);
    expect(run.agents.poster).toMatchObject({ published: 0, held: 0 });
  });
});

describe('review: rehearsals and why outputs are held', () => {
  it('--approve-after publishes each held output once, at its decision; --reject-after publishes none; the checks say so', async () => {
    for (const action of ['approve', 'reject'] as const) {
      const run = await simulate({
        pipeline,
        scenario: 'normal',
        inject: ['crash:writer@02:00', 'fail:writer@03:00'],
        hours: 5,
        decideAfter: { action, minutes: 30 },
        dynamoEndpoint: inject('dynamoEndpoint'),
        tablePrefix: `review-${action}-${randomUUID().slice(0, 8)}`,
      });
      expect(run.passed).toBe(true);
      expect(run.checks.filter((c) => /held|approved/.test(c.name)).map((c) => [c.name, c.status])).toEqual([
        ['nothing held was published before its decision', 'PASS'],
        ['every approved output was published exactly once', 'PASS'],
      ]);
      const held = run.review!.held;
      expect(held.map((h) => h.status)).toEqual(action === 'approve' ? ['published', 'published'] : ['rejected', 'rejected']);
      for (const h of held) {
        expect(h.decision).toMatchObject({ action, by: `rehearsal (--${action}-after 30)`, at: h.heldAt + 30 * 60_000 });
        const published = run.published.filter((p) => p.outputId === h.outputId);
        expect(published.map((p) => p.at)).toEqual(action === 'approve' ? [h.heldAt + 30 * 60_000] : []);
      }
      // The digest paged each held output, once.
      expect(run.pages.filter((p) => /output\(s\) held for review/.test(p.subject))).toHaveLength(2);
    }
  });

  it("holds the probe's output and each agent's first run after a reset ('after-trip'), and nothing after", async () => {
    const base = reviewPipeline(`review-trip-${randomUUID().slice(0, 6)}`, { when: ['after-trip'] });
    const tripping = { ...base, breaker: { ...base.breaker, coolDownMinutes: 60 } };
    const tablePrefix = `review-trip-${randomUUID().slice(0, 8)}`;
    const run = await simulate({ pipeline: tripping, scenario: 'normal', inject: ['loop:poster@02:30'], hours: 7, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix });
    expect(run.alerts).toHaveLength(1);
    const held = run.review!.held;
    // Before the trip nothing was held; the probe's output was, and the poster's runs after it were not.
    expect(held.length).toBeGreaterThanOrEqual(1);
    const posterRuns = run.runs.filter((r) => r.agentId === 'poster' && r.status === 'completed' && r.slot > Date.UTC(2026, 10, 25, 3));
    expect(posterRuns.length).toBeGreaterThanOrEqual(2);
    expect(run.agents.poster!.held).toBe(1);
    const clock = new ManualClock(run.end);
    const local = await LocalPipeline.start({ pipeline: tripping, clock, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix });
    try {
      const modules = new Map(await Promise.all(tripping.agents.map(async (a) => [a.id, await loadAgentModule(a)] as const)));
      for (const [id, module] of modules) if (module.publishers) local.publishers.set(id, module.publishers);
      const deps = localReview(local, modules);
      const [probe] = await deps.held.list('poster');
      expect(probe?.reasons).toEqual(["after-trip: the breaker's probe run, or the agent's first run since the breaker was reset"]);
      // A trip and a reset by hand: the poster's next run is held, the one after is not.
      await local.breaker.trip({ reason: 'outputs', agentId: 'poster', detail: 'a test trip' });
      await local.breaker.reset();
      const invoke = async (hour: number) => {
        await clock.advance(HOUR);
        return local.handler('poster', modules.get('poster')!.work)({ agentId: 'poster', scheduledTime: new Date(Date.UTC(2026, 10, 25, hour, 30)).toISOString() }) as unknown as Promise<{ outputs: { held?: boolean; published: boolean }[] }>;
      };
      expect((await invoke(8)).outputs).toEqual([expect.objectContaining({ held: true, published: false })]);
      expect((await invoke(9)).outputs).toEqual([expect.objectContaining({ published: true })]);
    } finally {
      await local.stop();
    }
  });
});

describe('review: causality', () => {
  it("a held output's event, once approved, makes the runs it starts wait for what its run wrote before it (steward stalled)", async () => {
    const chain = causalChain(`review-causal-${randomUUID().slice(0, 6)}`);
    const reviewed = definePipeline({
      ...chain,
      agents: chain.agents.map((a) => (a.id === 'collector' ? { ...a, review: { when: ['always' as const] } } : a)),
    });
    // The collector's 00:00 output is held, approved at 00:30 while the steward has applied nothing since 00:00: the
    // summarizer it starts must wait for the collector's updates (then run degraded), never read past them.
    const run = await simulate({
      pipeline: reviewed,
      scenario: 'normal',
      inject: ['stall:steward@00:00-03:00'],
      hours: 4,
      decideAfter: { action: 'approve', minutes: 30 },
      dynamoEndpoint: inject('dynamoEndpoint'),
      tablePrefix: `review-causal-${randomUUID().slice(0, 8)}`,
    });
    expect(run.runs.filter((r) => r.status === 'fail' || r.status === 'crash')).toEqual([]);
    const summarized = run.runs.filter((r) => r.agentId === 'summarizer' && r.status === 'completed');
    expect(summarized.length).toBeGreaterThanOrEqual(1);
    const first = summarized[0]!;
    expect(first.memoryWait).toMatchObject({ awaited: 3 });
    expect(first.degraded).toBe(true);
    expect(run.checks.filter((c) => !c.ok)).toEqual([]);
  });
});
