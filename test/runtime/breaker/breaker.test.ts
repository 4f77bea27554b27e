import { randomUUID } from 'node:crypto';
import { UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { BreakerOpenError } from '../../../src/runtime/breaker/breaker.ts';
import { runAgent } from '../../../src/runtime/run-lifecycle.ts';
import { alertsPublished, breakerSpec, freshBreaker, schedulerMock } from '../../support/breaker.ts';
import { MINUTE } from '../../support/coordination.ts';

const spec = breakerSpec;

let outputNumber = 0;
const post = () => ({ text: `post ${++outputNumber}` });

describe('circuit breaker: sliding window', () => {
  it('refuses the 6th output in the window when N=5, M=10, and trips', async () => {
    const { outputs, breaker } = await freshBreaker();
    const published = vi.fn(async () => undefined);
    for (let i = 0; i < 5; i++) await expect(outputs.emit(spec(), 'run', `o${i}`, post(), published)).resolves.toEqual({ published: true });
    await expect(outputs.emit(spec(), 'run', 'o5', post(), published)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(published).toHaveBeenCalledTimes(5);
    expect((await breaker.state()).status).toBe('OPEN');
  });

  it('does not count outputs spread over more than M minutes', async () => {
    const { outputs, breaker, clock } = await freshBreaker();
    for (let i = 0; i < 12; i++) {
      await outputs.emit(spec(), 'run', `o${i}`, post());
      await clock.advance(2 * MINUTE + 1); // 5 outputs per 10 minutes at most
    }
    expect((await breaker.state()).status).toBe('CLOSED');
    expect(alertsPublished()).toHaveLength(0);
  });

  it('enforces the pipeline-wide limit across agents', async () => {
    const { outputs, breaker } = await freshBreaker({ pipelineMaxOutputs: 6 });
    for (let i = 0; i < 6; i++) await outputs.emit(spec({ id: `agent-${i % 3}` }), 'run', `o${i}`, post());
    await expect(outputs.emit(spec({ id: 'agent-0' }), 'run', 'o6', post())).rejects.toThrow(/the pipeline produced 7 outputs/);
    expect((await breaker.state()).reason).toBe('pipeline-outputs');
  });
});

describe('circuit breaker: trip', () => {
  it('sends exactly one alert when 100 concurrent emits cross the limit', async () => {
    const { outputs, breaker, schedules } = await freshBreaker({ schedules: { 'planner-0': 'ENABLED', 'writer-0': 'ENABLED' } });
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => outputs.emit(spec(), `run-${i}`, `o${i}`, post())));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof BreakerOpenError)).toBe(true);
    const alerts = alertsPublished();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.Subject).toBe('[nightshift (test)] circuit breaker OPEN: community (outputs)');
    // Whichever over-limit emitter won the trip wrote the alert; each saw its own count.
    expect(alerts[0]!.Message).toMatch(/community produced (\d+) outputs in the last 10 minutes; the limit is 5/);
    // The last few ids the breaker's count kept (one slot each, written in turn: concurrent counts may overwrite one, so
    // the alert shows one to three of them, never an id that was not emitted, never one twice).
    const listed = /Last outputs: (.+)/.exec(alerts[0]!.Message ?? "")![1]!.split(', ');
    expect(listed.length).toBeGreaterThanOrEqual(1);
    expect(listed.length).toBeLessThanOrEqual(3);
    expect(new Set(listed).size).toBe(listed.length);
    for (const id of listed) expect(id).toMatch(/^o(\d|[1-9]\d)$/);
    expect(alerts[0]!.Message).toContain('resume with: npx nightshift breaker reset --stage test');
    expect((await breaker.state()).status).toBe('OPEN');
    expect([schedules.state('planner-0'), schedules.state('writer-0')]).toEqual(['DISABLED', 'DISABLED']);
  });

  it('disables a schedule by resending every field with only the state changed', async () => {
    const { outputs, schedules } = await freshBreaker();
    for (let i = 0; i < 6; i++) await outputs.emit(spec(), 'run', `o${i}`, post()).catch(() => undefined);
    expect(schedules.updates()).toEqual([
      expect.objectContaining({
        Name: 'planner-0',
        GroupName: 'nightshift-test',
        ScheduleExpression: 'cron(0 3 * * ? *)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: expect.objectContaining({ Arn: expect.stringContaining('planner-0'), RoleArn: expect.any(String) }),
        State: 'DISABLED',
      }),
    ]);
  });
});

describe('circuit breaker: halt and reset', () => {
  it('stops guarded agents while OPEN; after reset they run and exactly the schedules that were enabled come back', async () => {
    const { outputs, breaker, deps, schedules, clock } = await freshBreaker({
      schedules: { 'planner-0': 'ENABLED', 'writer-0': 'ENABLED', 'seo-0': 'DISABLED' },
    });
    await breaker.trip({ reason: 'outputs', agentId: 'writer', detail: 'test trip' });
    const invocation = (at: number) => ({ agentId: 'community', scheduledTime: new Date(at).toISOString(), scheduleArn: 'local', attemptNumber: 0 });
    const work = vi.fn(async () => 'worked');
    const refused = await runAgent(deps, spec(), invocation(clock.now()), work);
    expect(refused).toMatchObject({ status: 'halted', reason: expect.stringContaining('breaker OPEN') });
    expect(work).not.toHaveBeenCalled();
    await expect(outputs.emit(spec(), 'late-run', 'x', post())).rejects.toBeInstanceOf(BreakerOpenError);
    expect(schedules.state('seo-0')).toBe('DISABLED');

    const reset = await breaker.reset();
    expect(reset).toEqual({ wasOpen: true, enabled: ['planner-0', 'writer-0'] });
    expect([schedules.state('planner-0'), schedules.state('writer-0'), schedules.state('seo-0')]).toEqual(['ENABLED', 'ENABLED', 'DISABLED']);
    await expect(runAgent(deps, spec(), invocation(clock.now() + MINUTE), work)).resolves.toMatchObject({ status: 'completed' });
    expect(work).toHaveBeenCalledOnce();
  });

  it('starts counting afresh after a reset', async () => {
    const { outputs, breaker } = await freshBreaker();
    for (let i = 0; i < 6; i++) await outputs.emit(spec(), 'run', `o${i}`, post()).catch(() => undefined);
    await breaker.reset();
    for (let i = 0; i < 5; i++) await expect(outputs.emit(spec(), 'run2', `p${i}`, post())).resolves.toEqual({ published: true });
  });

  it('halts a run mid-way when its output trips the breaker, publishing nothing more', async () => {
    const { deps, clock } = await freshBreaker();
    const published: string[] = [];
    const outcome = await runAgent(deps, spec(), { agentId: 'community', scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 }, async (ctx) => {
      for (let i = 0; i < 20; i++) await ctx.emit(post(), async (o) => void published.push(o.id));
    });
    expect(outcome).toMatchObject({ status: 'halted' });
    expect(published).toHaveLength(5);
    expect(alertsPublished()).toHaveLength(1);
  });
});

describe('circuit breaker: duplicate output guard', () => {
  it('publishes identical content once within the window and counts the suppressed copies', async () => {
    const { outputs, metrics, clock } = await freshBreaker();
    const publish = vi.fn(async () => undefined);
    const same = { channel: 'discord', text: 'New article: 3am patterns' };
    expect(await outputs.emit(spec(), 'run', 'a', same, publish)).toEqual({ published: true });
    expect(await outputs.emit(spec(), 'run', 'b', { text: same.text, channel: 'discord' }, publish)).toEqual({ published: false, reason: 'duplicate' });
    expect(publish).toHaveBeenCalledOnce();
    expect(metrics.get('DuplicatesSuppressed')).toBe(1);
    await clock.advance(61 * MINUTE);
    expect(await outputs.emit(spec(), 'run', 'c', same, publish)).toEqual({ published: true });
  });

  it('does not suppress a retry of content whose publish failed', async () => {
    const { outputs } = await freshBreaker();
    const content = { text: `flaky ${randomUUID()}` };
    await expect(outputs.emit(spec(), 'run', 'a', content, async () => Promise.reject(new Error('discord 503')))).rejects.toThrow('discord 503');
    expect(await outputs.emit(spec(), 'run', 'b', content, async () => undefined)).toEqual({ published: true });
  });
});

describe('circuit breaker: token budget', () => {
  it('trips with reason budget and one alert when the daily budget is overrun', async () => {
    const { outputs, breaker } = await freshBreaker();
    const budgeted = spec({ tokenBudgetPerDay: 10_000 });
    expect(await outputs.reportTokens(budgeted, 6_000)).toBe(6_000);
    await expect(outputs.reportTokens(budgeted, 6_000)).rejects.toThrow('community: token budget spent (12000 of 10000)');
    await expect(outputs.reportTokens(budgeted, 1)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(await breaker.state()).toMatchObject({ status: 'OPEN', reason: 'budget' });
    const alerts = alertsPublished();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.Message).toContain('community spent 12000 tokens today; its budget is 10000');
  });

  it('refuses a token count that is not a whole number', async () => {
    const { outputs } = await freshBreaker();
    await expect(outputs.reportTokens(spec(), -1)).rejects.toThrow('token count must be a whole number ≥ 0, got -1');
  });
});

describe('circuit breaker: cool-down and half-open', () => {
  it('lets one probe run through after the cool-down; a clean probe closes the breaker', async () => {
    const { breaker, deps, clock, schedules } = await freshBreaker({ coolDownMinutes: 30 });
    await breaker.trip({ reason: 'outputs', agentId: 'planner', detail: 'loop' });
    expect(await breaker.coolDown()).toBe(false);
    await clock.advance(30 * MINUTE);
    expect(await breaker.coolDown()).toBe(true);
    expect(await breaker.coolDown()).toBe(false);
    expect(schedules.state('planner-0')).toBe('ENABLED');

    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const at = new Date(clock.now()).toISOString();
    const probe = runAgent(deps, spec({ id: 'planner' }), { agentId: 'planner', scheduledTime: at, scheduleArn: 'local', attemptNumber: 0 }, async () => gate);
    await vi.waitFor(async () => expect((await breaker.state()).probeRunId).toBeDefined());
    const second = await runAgent(deps, spec({ id: 'writer' }), { agentId: 'writer', scheduledTime: at, scheduleArn: 'local', attemptNumber: 0 }, async () => 'no');
    expect(second).toMatchObject({ status: 'halted', reason: expect.stringContaining('probe run') });
    release();
    await expect(probe).resolves.toMatchObject({ status: 'completed' });
    expect((await breaker.state()).status).toBe('CLOSED');
    expect(alertsPublished()).toHaveLength(1);
  });

  it('re-opens with a single alert when the probe bursts again', async () => {
    const { breaker, deps, clock } = await freshBreaker({ coolDownMinutes: 30 });
    await breaker.trip({ reason: 'outputs', agentId: 'community', detail: 'first burst' });
    await clock.advance(30 * MINUTE);
    await breaker.coolDown();
    const outcome = await runAgent(deps, spec(), { agentId: 'community', scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 }, async (ctx) => {
      for (let i = 0; i < 50; i++) await ctx.emit(post());
    });
    expect(outcome.status).toBe('halted');
    expect((await breaker.state()).status).toBe('OPEN');
    expect(alertsPublished()).toHaveLength(2);
    expect(alertsPublished()[1]!.Message).toContain('the half-open probe tripped it again');
  });

  it('re-opens for another cool-down, without a second alert, when the probe run fails', async () => {
    const { breaker, deps, clock, schedules } = await freshBreaker({ coolDownMinutes: 30 });
    await breaker.trip({ reason: 'outputs', agentId: 'planner', detail: 'loop' });
    await clock.advance(30 * MINUTE);
    await breaker.coolDown();
    const failing = runAgent(deps, spec({ id: 'planner' }), { agentId: 'planner', scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 }, async () => {
      throw new Error('model unavailable');
    });
    await expect(failing).rejects.toThrow('model unavailable');
    expect(await breaker.state()).toMatchObject({ status: 'OPEN', probeRunId: undefined });
    expect(schedules.state('planner-0')).toBe('DISABLED');
    expect(alertsPublished()).toHaveLength(1);
    expect(await breaker.coolDown()).toBe(false); // the cool-down starts again
  });

  it('lets a probe close the breaker whatever the cool-down against the window: the burst that tripped it is not counted again (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 5 }), async (coolDownMinutes, probeOutputs) => {
        const { breaker, deps, clock } = await freshBreaker({ coolDownMinutes });
        const limited = spec({ breaker: { maxOutputs: 5, windowMinutes: 60 } });
        const burst = await runAgent(deps, limited, { agentId: 'community', scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 }, async (ctx) => {
          for (let i = 0; i < 10; i++) await ctx.emit(post());
        });
        expect(burst.status).toBe('halted');
        await clock.advance(coolDownMinutes * MINUTE);
        expect(await breaker.coolDown()).toBe(true);
        const probe = await runAgent(deps, limited, { agentId: 'community', scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 }, async (ctx) => {
          for (let i = 0; i < probeOutputs; i++) await ctx.emit(post());
        });
        expect(probe.status).toBe('completed');
        expect((await breaker.state()).status).toBe('CLOSED');
      }),
      { numRuns: 8, seed: 2 },
    );
  });
});

describe('circuit breaker: transitions against their side effects', () => {
  it('never leaves the breaker CLOSED with schedules disabled when a reset lands while the halt is disabling them', async () => {
    const { breaker, schedules } = await freshBreaker({ schedules: { 'planner-0': 'ENABLED', 'writer-0': 'ENABLED' } });
    // The reset runs right after the halt recorded what to restore, before it disabled anything.
    let reset: Promise<unknown> | undefined;
    schedulerMock.on(UpdateScheduleCommand).callsFake(async (input) => {
      reset ??= breaker.reset();
      await reset;
      return schedules.apply(input);
    });
    await breaker.trip({ reason: 'outputs', agentId: 'planner', detail: 'loop' });
    await reset;
    expect((await breaker.state()).status).toBe('CLOSED');
    expect([schedules.state('planner-0'), schedules.state('writer-0')]).toEqual(['ENABLED', 'ENABLED']);
  });
});
