import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import { type AgentContext, UpstreamCheckError, runAgent } from '../../src/runtime/run-lifecycle.ts';
import { Heartbeats } from '../../src/runtime/heartbeats.ts';
import { LockLostError } from '../../src/runtime/locks.ts';
import { MINUTE, coordination } from '../support/coordination.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MemoryReceipts } from '../../src/runtime/memory/receipts.ts';

const dynamo = await dynamoForTest('guard');

/** A writer downstream of a planner, with ids unique to the test so tests share nothing. */
function pipelineIds() {
  const suffix = randomUUID().slice(0, 8);
  const spec: AgentSpec = {
    id: `writer-${suffix}`,
    leaseMinutes: 10,
    heartbeatIntervalMinutes: 5,
    upstream: [{ id: `planner-${suffix}`, staleAfterMinutes: 15 }],
    breaker: { maxOutputs: 5, windowMinutes: 10 },
    duplicateWindowMinutes: 60,
  };
  return { spec, upstreamId: spec.upstream[0]!.id };
}

function setup() {
  const c = coordination(dynamo);
  const { spec, upstreamId } = pipelineIds();
  const deps = { locks: c.locks, heartbeats: c.heartbeats, clock: c.clock, metrics: c.metrics };
  const invocation = { agentId: spec.id, scheduledTime: new Date(c.clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 };
  return { ...c, spec, upstreamId, deps, invocation };
}

describe('agent guard', () => {
  it('runs the work with a fencing token and records a succeeded heartbeat', async () => {
    const { deps, spec, invocation, heartbeats, upstreamId } = setup();
    await heartbeats.beat(upstreamId, { runId: 'p1', status: 'succeeded' });
    const outcome = await runAgent(deps, spec, invocation, async (ctx) => {
      await ctx.emit({ article: 'a' });
      return 'done';
    });
    expect(outcome).toMatchObject({ status: 'completed', result: 'done', degraded: undefined });
    if (outcome.status !== 'completed') throw new Error('unreachable');
    expect(outcome.outputs).toEqual([
      {
        id: `${outcome.runId}:0`,
        agentId: spec.id,
        runId: outcome.runId,
        fencingToken: outcome.fencingToken,
        degraded: false,
        payload: { article: 'a' },
        published: true,
      },
    ]);
    expect(await heartbeats.last(spec.id)).toMatchObject({ status: 'succeeded', runId: outcome.runId });
  });

  it('runs degraded when the upstream heartbeat is older than its limit, and marks the output', async () => {
    const { deps, spec, invocation, heartbeats, clock, upstreamId, metrics } = setup();
    await heartbeats.beat(upstreamId, { runId: 'p1', status: 'running' });
    await clock.advance(20 * MINUTE);
    const work = vi.fn(async (ctx: AgentContext) => ctx.emit({ article: 'standalone' }));
    const outcome = await runAgent(deps, spec, { ...invocation, scheduledTime: new Date(clock.now()).toISOString() }, work);
    expect(work).toHaveBeenCalledOnce();
    const reason = `${upstreamId} last beat 20 min ago while running (limit 15 min)`;
    expect(outcome).toMatchObject({ status: 'completed', degraded: { reasons: [reason] } });
    if (outcome.status !== 'completed') throw new Error('unreachable');
    expect(outcome.outputs[0]).toMatchObject({ degraded: true, degradedReason: reason });
    expect(metrics.get('DegradedRuns')).toBe(1);
    expect(await heartbeats.last(spec.id)).toMatchObject({ status: 'succeeded', detail: `degraded: ${reason}` });
  });

  it('runs degraded when the upstream never ran', async () => {
    const { deps, spec, invocation, upstreamId } = setup();
    const outcome = await runAgent(deps, spec, invocation, async () => 'ok');
    expect(outcome).toMatchObject({ degraded: { reasons: [`${upstreamId} has never reported a heartbeat`] } });
  });

  it('reports a store error instead of pretending the upstream is stale, and frees the slot', async () => {
    const { deps, spec, invocation, client, clock, locks } = setup();
    const brokenHeartbeats = new Heartbeats({ client, tableName: 'no-such-table', clock });
    const work = vi.fn(async () => 'ran');
    const failed = runAgent({ ...deps, heartbeats: brokenHeartbeats }, spec, invocation, work);
    await expect(failed).rejects.toBeInstanceOf(UpstreamCheckError);
    await expect(failed).rejects.toMatchObject({ cause: { name: 'ResourceNotFoundException' } });
    expect(work).not.toHaveBeenCalled();
    // The slot's lock was released (not completed), so Scheduler's retry can run it.
    await expect(runAgent({ ...deps, locks }, spec, invocation, work)).resolves.toMatchObject({ status: 'completed' });
  });

  it('runs the same scheduled slot once when it is delivered twice', async () => {
    const { deps, spec, invocation, metrics } = setup();
    const work = vi.fn(async () => 'ran');
    const first = await runAgent(deps, spec, invocation, work);
    const again = await runAgent(deps, spec, { ...invocation, attemptNumber: 1 }, work);
    expect(first.status).toBe('completed');
    expect(again).toMatchObject({ status: 'skipped', reason: 'already-completed' });
    expect(work).toHaveBeenCalledOnce();
    expect(metrics.get('DuplicateRunsSkipped')).toBe(1);
  });

  it('runs a slot delivered twice at the same moment once', async () => {
    const { deps, spec, invocation } = setup();
    // The winner's work holds until the loser has answered, however the two are scheduled on a busy machine: the
    // loser meets a slot that is running, never one already completed.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const work = vi.fn(async () => {
      await gate;
      return 'ran';
    });
    const runs = [runAgent(deps, spec, invocation, work), runAgent(deps, spec, invocation, work)];
    const first = await Promise.race(runs);
    expect(first).toMatchObject({ status: 'skipped', reason: 'running-elsewhere' });
    release();
    const outcomes = await Promise.all(runs);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['completed', 'skipped']);
    expect(work).toHaveBeenCalledOnce();
  });

  it('treats the same slot written with another offset as the same slot', async () => {
    const { deps, spec, invocation } = setup();
    const work = vi.fn(async () => 'ran');
    await runAgent(deps, spec, invocation, work);
    const sameInstant = invocation.scheduledTime.replace('Z', '+00:00').replace('.000', '');
    await runAgent(deps, spec, { ...invocation, scheduledTime: sameInstant }, work);
    expect(work).toHaveBeenCalledOnce();
  });

  it('renews the lease and beats while a long run works, so nobody takes it over', async () => {
    const { deps, spec, invocation, clock, locks, heartbeats, metrics } = setup();
    const outcome = await runAgent(deps, spec, invocation, async (ctx) => {
      await clock.advance(25 * MINUTE); // 2.5 leases
      await expect(locks.acquire(ctx.taskId, 'intruder', MINUTE)).rejects.toMatchObject({ name: 'LockHeldError' });
      expect(await heartbeats.last(spec.id)).toMatchObject({ status: 'running', beatAt: clock.now() });
      return ctx.signal.aborted;
    });
    expect(outcome).toMatchObject({ status: 'completed', result: false });
    expect(metrics.get('LeaseRenewals')).toBe(5);
  });

  it('aborts the work and fails the run when the lease is lost while the process was frozen', async () => {
    const { deps, spec, invocation, clock, locks, metrics } = setup();
    let intruderToken = 0;
    const run = runAgent(deps, spec, invocation, async (ctx) => {
      clock.jump(11 * MINUTE); // frozen past the 10-minute lease
      intruderToken = (await locks.acquire(ctx.taskId, 'intruder', 10 * MINUTE)).fencingToken;
      await clock.advance(0); // thawed: the overdue renewal runs and finds the lock gone
      expect(ctx.signal.aborted).toBe(true);
      expect(ctx.signal.reason).toBeInstanceOf(LockLostError);
      expect(intruderToken).toBeGreaterThan(ctx.fencingToken);
      return 'should not count';
    });
    await expect(run).rejects.toBeInstanceOf(LockLostError);
    expect(metrics.get('LocksLost')).toBe(1);
  });

  it('records a failed run, releases the slot for a retry, and rethrows', async () => {
    const { deps, spec, invocation, heartbeats } = setup();
    const boom = new Error('model refused');
    await expect(runAgent(deps, spec, invocation, async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(await heartbeats.last(spec.id)).toMatchObject({ status: 'failed', detail: 'model refused' });
    await expect(runAgent(deps, spec, invocation, async () => 'retried')).resolves.toMatchObject({
      status: 'completed',
      result: 'retried',
    });
  });

  describe('memory before a run started by an output', () => {
    const receipts = () => new MemoryReceipts({ client: DynamoDBDocumentClient.from(dynamo.client), tableName: dynamo.names.memory });

    it('waits at most its trigger’s bound for updates nobody settles, then runs degraded saying how many are pending', async () => {
      const { deps, spec, clock } = setup();
      const upstream = `up-${randomUUID().slice(0, 6)}`;
      const triggered = { ...spec, upstream: [], triggers: [{ outputsOf: upstream, waitForMemorySeconds: 5 }] };
      const invocation = {
        agentId: spec.id,
        scheduledTime: new Date(clock.now()).toISOString(),
        scheduleArn: 'event',
        attemptNumber: 0,
        trigger: { kind: 'output' as const, eventId: randomUUID(), from: upstream, outputId: 'r1:0', runId: 'r1', degraded: false, payload: {}, memory: { submitted: 3, unsent: [1] } },
      };
      const pauses: number[] = [];
      const outcome = await runAgent({ ...deps, receipts: receipts(), pause: async (ms) => { pauses.push(ms); await clock.advance(ms); } }, triggered, invocation, async (ctx) => ctx.degraded?.reasons);
      expect(outcome).toMatchObject({ status: 'completed', memoryWait: { from: upstream, awaited: 2, pending: 2, waitedMs: 5_000 } });
      if (outcome.status !== 'completed') throw new Error('unreachable');
      expect(outcome.result).toEqual([`2 of 2 memory updates of ${upstream}'s run r1 not applied after 5 s: the steward is behind or down`]);
      // At once, then after 0.2, 0.4, 0.8, 1.6 s, and what is left of the bound.
      expect(pauses).toEqual([200, 400, 800, 1_600, 2_000]);
    });

    it('does not take an upstream’s word for an unbounded count: past 10,000 updates the run is degraded at once, reading nothing', async () => {
      const { deps, spec, clock } = setup();
      const upstream = `up-${randomUUID().slice(0, 6)}`;
      const invocation = {
        agentId: spec.id,
        scheduledTime: new Date(clock.now()).toISOString(),
        scheduleArn: 'event',
        attemptNumber: 0,
        trigger: { kind: 'output' as const, eventId: randomUUID(), from: upstream, outputId: 'r2:0', runId: 'r2', degraded: false, payload: {}, memory: { submitted: 1_000_000, unsent: [] } },
      };
      const pause = vi.fn(async () => undefined);
      const outcome = await runAgent({ ...deps, receipts: receipts(), pause }, { ...spec, upstream: [], triggers: [{ outputsOf: upstream }] }, invocation, async (ctx) => ctx.degraded?.reasons);
      expect(outcome).toMatchObject({ status: 'completed', memoryWait: { pending: 1_000_000, waitedMs: 0 } });
      if (outcome.status !== 'completed') throw new Error('unreachable');
      expect(outcome.result).toEqual([`${upstream}'s run r2 says it queued 1000000 memory updates, more than the 10000 a run waits for: not checked`]);
      expect(pause).not.toHaveBeenCalled();
    });

    it('never waits for an outside event, which carries no memory: nobody outside the pipeline can write it', async () => {
      const { deps, spec, clock } = setup();
      const invocation = { agentId: spec.id, scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'event', attemptNumber: 0, trigger: { kind: 'event' as const, eventId: 'e1', source: 'tickets', detailType: 'Ticket opened', detail: {} } };
      const pause = vi.fn(async () => undefined);
      const outcome = await runAgent({ ...deps, receipts: receipts(), pause }, { ...spec, upstream: [] }, invocation, async (ctx) => ctx.degraded);
      expect(outcome).toMatchObject({ status: 'completed', degraded: undefined, result: undefined });
      expect(outcome).not.toHaveProperty('memoryWait');
      expect(pause).not.toHaveBeenCalled();
    });
  });
});
