import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedReview } from '../../../lambdas/shared/review-deps.ts';
import { decide } from '../../../cli/review.ts';
import type { BreakerState } from '../../../src/runtime/breaker/breaker-state.ts';
import type { BreakerPort } from '../../../src/runtime/breaker/breaker-state.ts';
import { OutputGuard } from '../../../src/runtime/breaker/output-guard.ts';
import { OutputWindows } from '../../../src/runtime/breaker/output-window.ts';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { type ReviewDeps, decideHeld, expireHeld } from '../../../src/runtime/review/decisions.ts';
import { ReviewDigest } from '../../../src/runtime/review/digest.ts';
import { HeldOutputs } from '../../../src/runtime/review/held-outputs.ts';
import { LinkSigner } from '../../../src/runtime/review/links.ts';
import { PAGE_MESSAGE_MAX } from '../../../src/runtime/watch/watch.ts';
import { reviewPipeline } from '../../fixtures/review-pipeline.ts';
import { dynamoForTest } from '../../support/dynamo.ts';

/** What an independent review of held outputs found, each with the test that failed before its fix. */
const HOUR = 60 * 60_000;
let client: DynamoDBDocumentClient;
let names: { counters: string; coordination: string };
const lambdaMock = mockClient(LambdaClient);

beforeAll(async () => {
  const dynamo = await dynamoForTest('review-findings');
  client = DynamoDBDocumentClient.from(dynamo.client);
  names = dynamo.names;
});
afterAll(() => lambdaMock.restore());

let n = 0;
function parts(agentId: string) {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 3));
  const held = new HeldOutputs({ client, tableName: names.counters, clock });
  const breaker: { state: Partial<BreakerState> } = { state: { status: 'CLOSED' } };
  const published: string[] = [];
  const review: ReviewDeps = {
    held,
    breakerState: async () => ({ status: 'CLOSED', epoch: 0, trips: 0, restoreSchedules: [], ...breaker.state }) as BreakerState,
    publish: async (agent, outputId) => {
      if (breaker.state.status !== 'CLOSED') return { status: 'halted', detail: 'breaker OPEN' };
      if (!(await held.startPublishing(agent, outputId)).ok) return { status: 'completed', detail: 'already' };
      published.push(outputId);
      await held.finishPublishing(agent, outputId, { ok: true });
      return { status: 'completed', detail: 'published' };
    },
  };
  const hold = async (overrides: { onExpiry?: 'discard' | 'publish'; reasons?: string[]; outputId?: string; agent?: string } = {}) => {
    const outputId = overrides.outputId ?? `run-${++n}:0`;
    await held.hold({ agentId: overrides.agent ?? agentId, outputId, runId: `run-${n}`, via: 'post', payload: { text: `post ${n}` }, degraded: false, reasons: overrides.reasons ?? ['always: reviewed'], expiresAfterHours: 6, onExpiry: overrides.onExpiry ?? 'discard' });
    return outputId;
  };
  return { clock, held, breaker, review, published, hold };
}

describe('review, as an independent review attacked it', () => {
  it("an output stuck in 'publishing' (its run died) can be rejected after 15 minutes, and is listed as waiting; approving it says why not", async () => {
    const { clock, held, review, hold } = parts('stuck');
    const id = await hold();
    await held.decide('stuck', id, { action: 'approve', by: 'alice' });
    expect((await held.startPublishing('stuck', id)).ok).toBe(true); // ... and the run dies here
    expect(await decideHeld(review, 'stuck', id, { action: 'approve', by: 'bob' })).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('has been publishing since') });
    expect(await held.decide('stuck', id, { action: 'reject', by: 'bob' })).toMatchObject({ ok: false });
    await clock.advance(16 * 60_000);
    expect(await decideHeld(review, 'stuck', id, { action: 'reject', by: 'bob', reason: 'checked: never posted' })).toMatchObject({ outcome: 'rejected' });
  });

  it("a failed publisher can be approved again by a person (a retry they chose), and an approval refused by an open breaker rejected later", async () => {
    const { clock, held, review, breaker, hold, published } = parts('retry');
    const failed = await hold();
    await held.decide('retry', failed, { action: 'approve', by: 'alice' });
    await held.startPublishing('retry', failed);
    await held.finishPublishing('retry', failed, { ok: false, error: 'discord 503' });
    expect(await decideHeld(review, 'retry', failed, { action: 'approve', by: 'alice' })).toMatchObject({ outcome: 'published' });
    expect(published).toEqual([failed]);
    const refused = await hold();
    await held.decide('retry', refused, { action: 'approve', by: 'alice' });
    breaker.state = { status: 'OPEN' };
    await clock.advance(16 * 60_000);
    expect(await decideHeld(review, 'retry', refused, { action: 'reject', by: 'bob' })).toMatchObject({ outcome: 'rejected' });
  });

  it("onExpiry 'publish' while the breaker is open publishes once it is closed, not never", async () => {
    const { clock, review, breaker, hold, published } = parts('expiring');
    const id = await hold({ onExpiry: 'publish' });
    breaker.state = { status: 'OPEN' };
    await clock.advance(7 * HOUR);
    expect((await expireHeld(review, 'expiring', 'publish', clock.now())).map((r) => r.outcome)).toEqual(['approved']);
    expect(published).toEqual([]);
    breaker.state = { status: 'CLOSED' };
    expect((await expireHeld(review, 'expiring', 'publish', clock.now())).map((r) => r.outcome)).toEqual(['published']);
    expect(await expireHeld(review, 'expiring', 'publish', clock.now())).toEqual([]);
    expect(published).toEqual([id]);
  });

  it('keeps the content claim when the request that held an output failed (its answer may be lost): a retried run holds no second copy', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 3));
    const windows = new OutputWindows({ client, tableName: names.counters, clock });
    let calls = 0;
    const breaker = {
      admitOutput: async () => {
        calls++;
        if (calls === 1) throw new Error('socket hang up');
        return { admitted: true, held: true };
      },
    } as unknown as BreakerPort;
    const guard = new OutputGuard({ breaker, windows });
    const spec = { id: `claims-${++n}`, leaseMinutes: 30, heartbeatIntervalMinutes: 5, upstream: [], breaker: { maxOutputs: 5, windowMinutes: 60 }, duplicateWindowMinutes: 1440 };
    const hold = { via: 'post', payload: { text: 'same' }, degraded: false, reasons: ['always'] };
    await expect(guard.hold(spec, 'run-1', 'run-1:0', hold)).rejects.toThrow('socket hang up');
    expect(await guard.hold(spec, 'run-2', 'run-2:0', hold)).toEqual({ published: false, reason: 'duplicate' });
  });

  it('refuses a review policy whose duplicate window ends before its outputs expire', async () => {
    const { definePipeline } = await import('../../../src/config/pipeline.ts');
    const base = reviewPipeline('short-claims');
    const agents = base.agents.map((a) => (a.id === 'poster' ? { ...a, duplicateWindowMinutes: 60 } : a));
    expect(() => definePipeline({ ...base, agents })).toThrow(/agents\[poster\]\.review\.expiresAfterHours: duplicateWindowMinutes must cover review\.expiresAfterHours/);
  });

  it("decides nothing on an id two agents hold (agents choose their ids) until the operator names the agent", async () => {
    const { review, hold } = parts('victim');
    const id = `shared-${++n}:0`;
    await hold({ outputId: id, agent: 'poster' });
    await hold({ outputId: id, agent: 'writer' });
    const pipeline = { ...reviewPipeline('ambiguous') };
    const both = { ...pipeline, agents: pipeline.agents.map((a) => ({ ...a, review: { when: ['always' as const], expiresAfterHours: 6, onExpiry: 'discard' as const } })) };
    const refused = await decide(both, review, 'alice', { action: 'approve', ids: [id] });
    expect(refused).toMatchObject({ ok: false, data: [expect.objectContaining({ outcome: 'refused', detail: `${id} is held by writer and poster: name the agent with --agent; nothing was decided` })] });
    const named = await decide(both, review, 'alice', { action: 'reject', ids: [id], agent: 'poster' });
    expect(named.ok).toBe(true);
  });

  it('never cuts a digest short: what does not fit waits for the next digest, with links that work; an output written late is listed next time', async () => {
    const { clock, review, hold } = parts('digested');
    const signer = new LinkSigner('k'.repeat(48));
    const pages: { subject: string; message: string }[] = [];
    const digest = new ReviewDigest({
      review,
      reviews: { digested: { onExpiry: 'discard' } },
      client,
      tableName: names.coordination,
      clock,
      alerts: { publish: async (p) => void pages.push(p) },
      label: 'test',
      links: { signer, page: 'https://approve.example/' },
      target: '--stage dev',
      everyMs: HOUR,
    });
    const long = Array.from({ length: 10 }, (_, i) => `reason ${i} ${'x'.repeat(480)}`);
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push(await hold({ reasons: long }));
    const listed = new Set<string>();
    for (let round = 0; round < 6 && listed.size < ids.length; round++) {
      const run = await digest.run();
      for (const id of run.listed) listed.add(id);
      const page = pages.at(-1)!;
      expect(page.message.length).toBeLessThanOrEqual(PAGE_MESSAGE_MAX);
      expect(page.message).not.toContain('more characters cut');
      for (const [, token] of page.message.matchAll(/\?t=(\S+)/g)) expect(signer.verify(token, clock.now()).ok).toBe(true);
      await clock.advance(HOUR);
    }
    expect([...listed].sort()).toEqual([...ids].sort());
    // Held with a time before the last digest (a slower clock, or a write that landed late): listed by the next one.
    const late = new HeldOutputs({ client, tableName: names.counters, clock: new ManualClock(clock.now() - 2 * HOUR) });
    await late.hold({ agentId: 'digested', outputId: 'late:0', runId: 'late', payload: 1, degraded: false, reasons: ['always'], expiresAfterHours: 6, onExpiry: 'discard' });
    expect((await digest.run()).listed).toEqual(['late:0']);
  });

  it("starts expiry's publishing runs without waiting for them in the watch (an asynchronous invoke)", async () => {
    lambdaMock.reset();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    const env = { counterTable: names.counters, coordinationTable: names.coordination, linkKeySecretArn: 'arn', label: 'x', target: '--stage dev', reviews: {}, agentFunctions: { poster: 'poster-fn' } };
    const deps = deployedReview(env, client, new ManualClock(0), { wait: false });
    expect(await deps.publish('poster', 'o:0')).toEqual({ status: 'started', detail: 'publishing run of poster started' });
    expect(lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input).toMatchObject({ FunctionName: 'poster-fn', InvocationType: 'Event' });
  });
});
