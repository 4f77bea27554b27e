import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../../src/config/agent-spec.ts';
import { Breaker, BreakerOpenError } from '../../../src/runtime/breaker/breaker.ts';
import { OutputGuard, contentHash } from '../../../src/runtime/breaker/output-guard.ts';
import { OutputWindows } from '../../../src/runtime/breaker/output-window.ts';
import { CLEANUP_GRACE_MINUTES } from '../../../src/runtime/breaker/window-buckets.ts';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { breakerSpec, freshBreaker } from '../../support/breaker.ts';
import { MINUTE } from '../../support/coordination.ts';

/**
 * The breaker's output accounting: two store calls per output on the normal path, exact under concurrency, bounded
 * items, and claims and epochs that stay right across expiry and resets.
 */
const spec = (overrides: Partial<AgentSpec> = {}) => breakerSpec({ duplicateWindowMinutes: 30, ...overrides });

function breakerOptions(b: Awaited<ReturnType<typeof freshBreaker>>) {
  return {
    client: b.client,
    tableName: b.countersTable,
    clock: b.clock,
    alerts: { publish: async () => undefined },
    schedules: { enabled: async () => [], enable: async () => undefined, disable: async () => undefined },
    pipelineLabel: 'test',
    resetCommand: 'n/a',
    pipelineLimit: { maxOutputs: 1000, windowMinutes: 60 },
  };
}

/** Counts every request the document client sends to DynamoDB. */
function countCalls(client: { middlewareStack: { add: (mw: never, options: { step: 'initialize' }) => void } }) {
  const counter = { calls: 0 };
  const middleware = ((next: (args: unknown) => Promise<unknown>) => (args: unknown) => {
    counter.calls++;
    return next(args);
  }) as never;
  client.middlewareStack.add(middleware, { step: 'initialize' });
  return counter;
}

describe('output accounting', () => {
  it('costs three store calls per output, duplicates included: its content claim, its count and the pipeline\'s', async () => {
    const b = await freshBreaker();
    const roomy = spec({ breaker: { maxOutputs: 10_000, windowMinutes: 60 } });
    await b.outputs.emit(roomy, 'run', 'warm', { text: 'warm' }); // the first read of the epoch is not the hot path
    const counter = countCalls(b.client);
    for (let i = 0; i < 40; i++) {
      await b.outputs.emit(roomy, 'run', `o${i}`, { text: `post ${i % 30}` }); // 10 duplicates
      if (i % 3 === 0) await b.clock.advance(MINUTE);
    }
    // Clean-up rides on the counting updates: no call of its own.
    expect(counter.calls).toBe(120);
  });

  it('keeps every item it writes bounded however long an agent runs and however many outputs its windows count', async () => {
    const b = await freshBreaker();
    const steady = spec({ breaker: { maxOutputs: 5, windowMinutes: 10 }, duplicateWindowMinutes: 20 });
    for (let i = 0; i < 300; i++) {
      await b.outputs.emit(steady, 'run', `o${i}`, { text: `post ${i}` });
      await b.clock.advance(3 * MINUTE);
    }
    const busy = spec({ id: 'busy', breaker: { maxOutputs: 100_000, windowMinutes: 60 } });
    // Five a minute for 65 minutes: every bucket of the hour's window holds outputs.
    for (let i = 0; i < 325; i++) {
      await b.outputs.emit(busy, 'run', `busy-output-${i}`, { text: `busy ${i}` });
      if (i % 5 === 4) await b.clock.advance(MINUTE);
    }
    const item = async (pk: string, sk: string) => (await b.client.send(new GetCommand({ TableName: b.countersTable, Key: { pk, sk } }))).Item!;
    // Keys, the sequence, three recent ids, and what is live (4 buckets of the 10-minute window), plus what went stale since the last output.
    expect(Object.keys(await item('verified#community', 'window')).length).toBeLessThanOrEqual(2 + 1 + 3 + 4 + 2);
    // An hour's window is at most 60 buckets, whatever it counts, kept a few minutes past the window for slower
    // clocks; the breaker's item holds the pipeline's, and its state.
    const kept = 60 + CLEANUP_GRACE_MINUTES + 1;
    expect(Object.keys(await item('verified#busy', 'window')).length).toBeLessThanOrEqual(2 + 1 + 3 + kept);
    const pipeline = await item('breaker', 'state');
    expect(Object.keys(pipeline).length).toBeLessThanOrEqual(2 + kept + 1);
    // Each is billed one write unit (DynamoDB bills by the item's size, 1 KB a unit) after an hour of five a minute.
    for (const key of [{ pk: 'breaker', sk: 'state' }, { pk: 'verified#busy', sk: 'window' }]) {
      const { ConsumedCapacity } = await b.client.send(new UpdateCommand({ TableName: b.countersTable, Key: key, UpdateExpression: 'SET probe = :p', ExpressionAttributeValues: { ':p': 1 }, ReturnConsumedCapacity: 'TOTAL' }));
      expect(ConsumedCapacity?.CapacityUnits, key.pk).toBe(1);
    }
    // A claim is an item of its own, of a few fixed attributes.
    expect(Object.keys(await item('outputs#community', `claim#${contentHash({ text: 'post 299' }).slice(0, 32)}`)).sort()).toEqual(['claim', 'claimedAt', 'pk', 'sk', 'ttl']);
    expect((await b.breaker.state()).status).toBe('CLOSED');
  });

  it('publishes content again once its duplicate window has passed, exactly once when emitted concurrently', async () => {
    const b = await freshBreaker();
    // A second sandbox on the same tables: its own breaker and windows, each remembering what it saw as stale.
    const other = new OutputGuard({
      breaker: new Breaker({ ...breakerOptions(b), pipelineLabel: 'other' }),
      windows: new OutputWindows({ client: b.client, tableName: b.countersTable, clock: b.clock }),
    });
    const roomy = spec({ breaker: { maxOutputs: 100, windowMinutes: 5 }, duplicateWindowMinutes: 30 });
    const same = { text: 'daily digest' };
    expect(await b.outputs.emit(roomy, 'run', 'a', same)).toEqual({ published: true });
    await b.clock.advance(29 * MINUTE);
    expect(await other.emit(roomy, 'run', 'b', same)).toEqual({ published: false, reason: 'duplicate' });
    await b.clock.advance(2 * MINUTE);
    // Both sandboxes now see the claim as expired, so their next output of other content removes it: those race
    // with the ones taking it over.
    await b.outputs.emit(roomy, 'run', 'x', { text: 'something else' });
    await other.emit(roomy, 'run', 'y', { text: 'and another' });
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => ((i >> 1) % 2 ? b.outputs : other).emit(roomy, `run-${i}`, `c${i}`, i % 2 ? { text: `other ${i}` } : same)),
    );
    expect(results.filter((r, i) => i % 2 === 0 && r.published)).toHaveLength(1);
    for (let i = 0; i < 4; i++) expect(await (i % 2 ? b.outputs : other).emit(roomy, 'later', `d${i}`, same)).toEqual({ published: false, reason: 'duplicate' });
  });

  it('publishes content emitted many times at once exactly once, even when most of those emits are refused', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const b = await freshBreaker();
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => b.outputs.emit(spec({ breaker: { maxOutputs: 3, windowMinutes: 10 } }), `run-${i}`, `o${i}`, { text: 'the same post' })));
      expect(results.filter((r) => r.status === 'fulfilled' && r.value.published), `trial ${trial}`).toHaveLength(1);
    }
  });

  it('gives the content claim back when the output is refused, so the same content can go out after a reset', async () => {
    const b = await freshBreaker();
    for (let i = 0; i < 5; i++) await b.outputs.emit(spec(), 'run', `o${i}`, { text: `post ${i}` });
    await expect(b.outputs.emit(spec(), 'run', 'o5', { text: 'the sixth' })).rejects.toBeInstanceOf(BreakerOpenError);
    await b.breaker.reset();
    expect(await b.outputs.emit(spec(), 'run2', 'o6', { text: 'the sixth' })).toEqual({ published: true });
  });

  it('counts in the new epoch when another process reset the breaker while this one still knew the old', async () => {
    const b = await freshBreaker();
    for (let i = 0; i < 5; i++) await b.outputs.emit(spec(), 'run', `o${i}`, { text: `post ${i}` });
    await expect(b.outputs.emit(spec(), 'run', 'o5', { text: 'post 5' })).rejects.toBeInstanceOf(BreakerOpenError);
    // The operator's CLI is another Breaker on the same table: this guard's breaker still holds epoch 0.
    const cli = new Breaker({ ...breakerOptions(b), pipelineLabel: 'cli' });
    await cli.reset();
    for (let i = 0; i < 5; i++) expect(await b.outputs.emit(spec(), 'run2', `p${i}`, { text: `again ${i}` })).toEqual({ published: true });
    await expect(b.outputs.emit(spec(), 'run2', 'p5', { text: 'again 5' })).rejects.toBeInstanceOf(BreakerOpenError);
  });

  it('never lets a process that missed a reset clear the new epoch\'s counts: N after the reset, across both', async () => {
    const b = await freshBreaker();
    for (let i = 0; i < 5; i++) await b.outputs.emit(spec(), 'run', `o${i}`, { text: `post ${i}` });
    await expect(b.outputs.emit(spec(), 'run', 'o5', { text: 'post 5' })).rejects.toBeInstanceOf(BreakerOpenError);
    // Another process resets and counts in the new epoch over two minutes; this one still holds the old epoch and
    // the old epoch's buckets as stale.
    const other = new OutputGuard({ breaker: new Breaker({ ...breakerOptions(b), pipelineLabel: 'other' }), windows: new OutputWindows({ client: b.client, tableName: b.countersTable, clock: b.clock }) });
    await new Breaker({ ...breakerOptions(b), pipelineLabel: 'cli' }).reset();
    let published = 0;
    for (let i = 0; i < 4; i++) {
      if ((await other.emit(spec(), 'run2', `n${i}`, { text: `new ${i}` })).published) published++;
      if (i === 1) await b.clock.advance(MINUTE);
    }
    for (let i = 0; i < 4; i++) {
      const result = await b.outputs.emit(spec(), 'run3', `s${i}`, { text: `stale ${i}` }).catch((error: unknown) => {
        expect(error).toBeInstanceOf(BreakerOpenError);
        return { published: false };
      });
      if (result.published) published++;
    }
    expect(published).toBe(5);
    expect((await b.breaker.state()).status).toBe('OPEN');
  });

  it('never publishes more than N in any window, whatever the interleaving of concurrent emits and time (property)', async () => {
    const step = fc.record({
      advanceMinutes: fc.integer({ min: 0, max: 4 }),
      burst: fc.array(fc.record({ agent: fc.constantFrom('a', 'b'), content: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 12 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), async (steps, n, m) => {
        const b = await freshBreaker({ pipelineMaxOutputs: n + 2 });
        const published: { agent: string; minute: number; content: number }[] = [];
        let id = 0;
        for (const { advanceMinutes, burst } of steps) {
          await b.clock.advance(advanceMinutes * MINUTE);
          const minute = Math.floor(b.clock.now() / MINUTE);
          await Promise.allSettled(
            burst.map(({ agent, content }) =>
              b.outputs
                .emit(spec({ id: agent, breaker: { maxOutputs: n, windowMinutes: m }, duplicateWindowMinutes: 3 }), `run-${agent}`, `o${id++}`, { content })
                .then((r) => void (r.published && published.push({ agent, minute, content }))),
            ),
          );
        }
        const inWindow = (list: typeof published, minute: number, window: number) => list.filter((p) => p.minute > minute - window && p.minute <= minute).length;
        for (const p of published) {
          expect(inWindow(published.filter((q) => q.agent === p.agent), p.minute, m)).toBeLessThanOrEqual(n);
          expect(inWindow(published, p.minute, 60)).toBeLessThanOrEqual(n + 2);
          // The same content from the same agent at most once within its 3-minute duplicate window.
          expect(published.filter((q) => q.agent === p.agent && q.content === p.content && q.minute > p.minute - 3 && q.minute <= p.minute)).toHaveLength(1);
        }
      }),
      { numRuns: 12, seed: 7 },
    );
  });

  it('never publishes past N when the emitters\' clocks disagree by minutes', async () => {
    const b = await freshBreaker();
    const ahead = new OutputGuard({
      breaker: new Breaker({ ...breakerOptions(b), clock: new ManualClock(b.clock.now() + 2 * MINUTE) }),
      windows: new OutputWindows({ client: b.client, tableName: b.countersTable, clock: new ManualClock(b.clock.now() + 2 * MINUTE) }),
    });
    const limited = spec({ breaker: { maxOutputs: 4, windowMinutes: 60 } });
    // The emitter two minutes ahead counts first; the one behind must still see those outputs.
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await ahead.emit(limited, 'a', `a${i}`, { i }).catch(() => ({ published: false })));
    for (let i = 0; i < 4; i++) results.push(await b.outputs.emit(limited, 'b', `b${i}`, { i: 10 + i }).catch(() => ({ published: false })));
    expect(results.filter((r) => r.published)).toHaveLength(4);
  });

  it('publishes exactly N of 30 concurrent emits from several processes, counts only those in the pipeline window, and blames the agent (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), async (n, processes) => {
        const b = await freshBreaker({ pipelineMaxOutputs: 10 });
        // Each emitter is its own Lambda sandbox: a breaker and windows of its own on the shared table.
        const emitters = Array.from({ length: processes }, (_, i) =>
          i === 0
            ? b.outputs
            : new OutputGuard({
                breaker: new Breaker({ ...breakerOptions(b), pipelineLimit: { maxOutputs: 10, windowMinutes: 60 } }),
                windows: new OutputWindows({ client: b.client, tableName: b.countersTable, clock: b.clock }),
              }),
        );
        const limited = spec({ id: 'looper', breaker: { maxOutputs: n, windowMinutes: 10 } });
        for (let round = 0; round < 3; round++) {
          const results = await Promise.allSettled(
            Array.from({ length: 30 }, (_, i) => emitters[i % processes]!.emit(limited, `run-${round}-${i}`, `o${round}-${i}`, { round, i })),
          );
          const published = results.filter((r) => r.status === 'fulfilled' && r.value.published).length;
          expect(published, `round ${round}, N = ${n}, ${processes} processes`).toBe(n);
          for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(BreakerOpenError);
          const state = await b.breaker.state();
          expect(state).toMatchObject({ status: 'OPEN', reason: 'outputs', agentId: 'looper' });
          // The pipeline's window holds only what was admitted: N per round (each reset starts a new epoch).
          const { Item = {} } = await b.client.send(new GetCommand({ TableName: b.countersTable, Key: { pk: 'breaker', sk: 'state' } }));
          const counted = Object.entries(Item).filter(([name]) => name.startsWith(`n${state.epoch.toString(36)}_`)).reduce((sum, [, count]) => sum + (count as number), 0);
          expect(counted).toBe(n);
          await b.breaker.reset();
        }
      }),
      { numRuns: 8, seed: 20 },
    );
  });

  it('enforces a pipeline limit given to the guard, in trusted code whose breaker was built without one', async () => {
    const b = await freshBreaker();
    const { pipelineLimit: _, ...withoutLimit } = breakerOptions(b);
    const guard = new OutputGuard({
      breaker: new Breaker(withoutLimit),
      windows: new OutputWindows({ client: b.client, tableName: b.countersTable, clock: b.clock }),
      pipelineLimit: { maxOutputs: 3, windowMinutes: 60 },
    });
    for (let i = 0; i < 3; i++) expect(await guard.emit(spec({ id: `agent-${i}` }), 'run', `o${i}`, { i })).toEqual({ published: true });
    await expect(guard.emit(spec({ id: 'agent-9' }), 'run', 'o9', { i: 9 })).rejects.toThrow(/the pipeline produced 4 outputs in the last 60 minutes; the limit is 3/);
    expect(await b.breaker.state()).toMatchObject({ status: 'OPEN', reason: 'pipeline-outputs', agentId: 'agent-9' });
  });
});
