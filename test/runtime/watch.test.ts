import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Alert, AlertSink } from '../../src/runtime/breaker/alerts.ts';
import type { BreakerState } from '../../src/runtime/breaker/breaker-state.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import type { RunEntry } from '../../src/runtime/run-history.ts';
import { PAGE_MESSAGE_MAX, PagesUnsentError, Watch, boundedPage, type WatchSources } from '../../src/runtime/watch/watch.ts';
import { dynamoForTest } from '../support/dynamo.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The pipeline's state as the watch reads it, set by each test; incidents live on a real coordination table. */
function world() {
  const state = {
    runs: new Map<string, RunEntry[]>(),
    breaker: { status: 'CLOSED', epoch: 0, trips: 0, restoreSchedules: [] } as BreakerState,
    rejected: [] as number[],
    queues: { memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 } as Awaited<ReturnType<WatchSources['queues']>>,
  };
  const sources: WatchSources = {
    runs: async (agentId) => state.runs.get(agentId) ?? [],
    breaker: async () => state.breaker,
    rejectionsSince: async (since): Promise<Record<string, number>> => {
      const count = state.rejected.filter((at) => at > since).length;
      return count > 0 ? { writer: count } : {};
    },
    queues: async () => state.queues,
  };
  return { state, sources };
}

const run = (agentId: string, at: number, extra: Partial<RunEntry> = {}): RunEntry => ({
  agentId,
  taskId: `${agentId}@${new Date(at).toISOString()}`,
  status: 'completed',
  startedAt: new Date(at).toISOString(),
  endedAt: new Date(at + MINUTE).toISOString(),
  degraded: false,
  published: 1,
  suppressed: 0,
  tokens: { input: 0, output: 0, cacheRead: 0, calls: 0 },
  ...extra,
});

async function setup(options: { failPublishes?: () => boolean } = {}) {
  const dynamo = await dynamoForTest('watch');
  const client = DynamoDBDocumentClient.from(dynamo.client);
  const clock = new ManualClock(Date.UTC(2026, 10, 25));
  const { state, sources } = world();
  const pages: (Alert & { at: number })[] = [];
  const watch = (alerts?: AlertSink) =>
    new Watch({
      spec: { label: 'news (test)', agents: [{ id: 'writer', silentAfterMs: 2 * HOUR }, { id: 'editor' }] },
      sources,
      client,
      tableName: dynamo.names.coordination,
      clock,
      alerts: alerts ?? {
        publish: async (alert) => {
          if (options.failPublishes?.()) throw new Error('SNS: service unavailable');
          pages.push({ ...alert, at: clock.now() });
        },
      },
    });
  const tick = async (minutes = 5) => {
    await clock.advance(minutes * MINUTE);
    return watch().run();
  };
  return { clock, state, pages, watch, tick };
}

describe('the watch', () => {
  it('pages once for a silent agent after its gap and grace, not before, and once more when it runs again', async () => {
    const t = await setup();
    t.state.runs.set('writer', [run('writer', t.clock.now())]);
    for (let i = 0; i < 24; i++) await t.tick(); // 2 hours: within the gap
    expect(t.pages).toEqual([]);
    for (let i = 0; i < 6; i++) await t.tick();
    expect(t.pages.map((p) => p.subject)).toEqual([expect.stringMatching(/^\[news \(test\)\] writer is silent: no run completed since 2026-11-25T00:01:00.000Z$/)]);
    t.state.runs.set('writer', [run('writer', t.clock.now()), run('writer', Date.UTC(2026, 10, 25))]);
    await t.tick();
    await t.tick();
    expect(t.pages.map((p) => p.subject)).toEqual([expect.stringMatching(/writer is silent/), expect.stringMatching(/^\[news \(test\)\] RESOLVED: writer is silent/)]);
  });

  it('stays quiet about silence while the breaker holds the pipeline halted (its trip paged once), and resolves the trip when it closes', async () => {
    const t = await setup();
    t.state.breaker = { ...t.state.breaker, status: 'OPEN', reason: 'outputs', agentId: 'writer', detail: 'loop' };
    for (let i = 0; i < 40; i++) await t.tick();
    expect(t.pages).toEqual([]);
    t.state.breaker = { ...t.state.breaker, status: 'CLOSED' };
    t.state.runs.set('writer', [run('writer', t.clock.now())]);
    await t.tick();
    expect(t.pages.map((p) => p.subject)).toEqual([expect.stringMatching(/RESOLVED: circuit breaker OPEN: writer \(outputs\)/)]);
  });

  it('pages a degraded run and a failed run, each until the agent completes a healthy run', async () => {
    const t = await setup();
    await t.tick();
    t.state.runs.set('editor', [run('editor', t.clock.now() + MINUTE, { degraded: true, detail: 'writer stale' })]);
    await t.tick();
    await t.tick();
    t.state.runs.set('editor', [run('editor', t.clock.now() + MINUTE, { status: 'failed', detail: 'boom' }), ...t.state.runs.get('editor')!]);
    await t.tick();
    await t.tick();
    expect(t.pages.map((p) => p.subject)).toEqual([expect.stringMatching(/editor runs degraded/), expect.stringMatching(/editor's runs fail/)]);
    t.state.runs.set('editor', [run('editor', t.clock.now() + MINUTE), ...t.state.runs.get('editor')!]);
    await t.tick();
    expect(t.pages.slice(2)).toHaveLength(2);
    expect(t.pages.slice(2).map((p) => p.subject)).toEqual(expect.arrayContaining([expect.stringMatching(/RESOLVED: editor runs degraded/), expect.stringMatching(/RESOLVED: editor's runs fail/)]));
  });

  it('pages rejected, dead-lettered and waiting memory updates, lost invocations, undelivered alerts and embeddings given up, and resolves each when it clears', async () => {
    const t = await setup();
    await t.tick();
    t.state.rejected.push(t.clock.now() + MINUTE);
    t.state.queues = { memoryVisible: 3, memoryDeadLetters: 1, scheduleDeadLetters: 2, lostInvocations: { editor: 1, writer: 0 }, undeliveredAlerts: 1, embeddingsGivenUp: 2 };
    await t.tick();
    expect(t.pages).toHaveLength(6);
    expect(t.pages.map((p) => p.subject)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/1 memory update\(s\) of writer rejected/),
        expect.stringMatching(/1 memory update\(s\) dead-lettered/),
        expect.stringMatching(/2 invocation\(s\) of the pipeline's own functions lost/),
        expect.stringMatching(/1 invocation\(s\) of editor lost/),
        expect.stringMatching(/1 alert\(s\) could not be delivered/),
        expect.stringMatching(/2 batch\(es\) of memory entries the embedder gave up on/),
      ]),
    );
    for (let i = 0; i < 3; i++) await t.tick(); // 15 minutes of updates waiting
    expect(t.pages.some((p) => /memory updates waiting for 15 min/.test(p.subject))).toBe(true);
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 };
    await t.tick();
    const resolved = t.pages.filter((p) => p.subject.includes('RESOLVED')).map((p) => p.subject);
    expect(resolved).toHaveLength(7);
  });

  it('pages each incident exactly once when ten watch runs overlap', async () => {
    const t = await setup();
    t.state.runs.set('writer', [run('writer', t.clock.now())]);
    await t.clock.advance(3 * HOUR);
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 2, scheduleDeadLetters: 0, undeliveredAlerts: 0 };
    const ticks = await Promise.all(Array.from({ length: 10 }, () => t.watch().run()));
    expect(t.pages).toHaveLength(2);
    expect(t.pages.map((p) => p.subject)).toEqual(expect.arrayContaining([expect.stringMatching(/dead-lettered/), expect.stringMatching(/writer is silent/)]));
    expect(ticks.reduce((sum, tick) => sum + tick.opened.length, 0)).toBe(2);
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 };
    t.state.runs.set('writer', [run('writer', t.clock.now())]);
    await t.clock.advance(MINUTE);
    await Promise.all(Array.from({ length: 10 }, () => t.watch().run()));
    expect(t.pages.filter((p) => p.subject.includes('RESOLVED'))).toHaveLength(2);
  });

  it('pages each agent’s lost invocations as its own: one agent keeping its queue full never silences another’s losses', async () => {
    const t = await setup();
    await t.tick();
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, lostInvocations: { editor: 500 }, undeliveredAlerts: 0 };
    await t.tick();
    await t.tick();
    t.state.queues = { ...t.state.queues, lostInvocations: { editor: 520, writer: 1 } };
    await t.tick();
    expect(t.pages.map((p) => p.subject)).toEqual([expect.stringMatching(/500 invocation\(s\) of editor lost/), expect.stringMatching(/1 invocation\(s\) of writer lost/)]);
  });

  it('marks an incident paged only after its publish succeeded: a failed page is sent by the next run, once', async () => {
    let failing = true;
    const t = await setup({ failPublishes: () => failing });
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 1, scheduleDeadLetters: 1, undeliveredAlerts: 0 };
    const first = await t.tick().catch((error: unknown) => error);
    expect(first).toBeInstanceOf(PagesUnsentError);
    expect([...(first as PagesUnsentError).keys].sort()).toEqual(['memory-dead-letters', 'schedule-dead-letters']);
    expect([...(first as PagesUnsentError).tick.opened].sort()).toEqual(['memory-dead-letters', 'schedule-dead-letters']);
    expect(t.pages).toEqual([]);
    await expect(t.tick()).rejects.toBeInstanceOf(PagesUnsentError); // still failing: still pending, nothing lost
    failing = false;
    const retried = await Promise.all(Array.from({ length: 5 }, () => t.watch().run())); // overlapping retries
    expect(retried.every((tick) => tick.unsent.length === 0)).toBe(true);
    expect(t.pages.map((p) => p.subject).sort()).toEqual([expect.stringMatching(/1 invocation\(s\) of the pipeline's own functions lost/), expect.stringMatching(/1 memory update\(s\) dead-lettered/)]);
    await t.tick();
    expect(t.pages).toHaveLength(2);
  });

  it('sends a resolution whose publish failed once the next run can, and an opening page lost to a dead run after its claim lapses', async () => {
    let failing = false;
    const t = await setup({ failPublishes: () => failing });
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 1, scheduleDeadLetters: 0, undeliveredAlerts: 0 };
    await t.tick();
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 };
    failing = true;
    await expect(t.tick()).rejects.toBeInstanceOf(PagesUnsentError);
    failing = false;
    await t.tick();
    expect(t.pages.map((p) => p.subject)).toEqual([expect.stringMatching(/dead-lettered/), expect.stringMatching(/RESOLVED: 1 memory update\(s\) dead-lettered/)]);
    // A run that opened an incident and died before publishing: its claim holds for a while, then another run pages.
    t.state.queues = { memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 3, undeliveredAlerts: 0 };
    let published!: () => void;
    const reachedPublish = new Promise<void>((resolve) => (published = resolve));
    void t.watch({ publish: () => (published(), new Promise<void>(() => {})) }).run(); // dies inside its publish
    await reachedPublish;
    await t.clock.advance(MINUTE);
    await t.watch().run();
    expect(t.pages.filter((p) => p.subject.includes('lost'))).toEqual([]); // its claim has not lapsed yet
    await t.tick(5);
    expect(t.pages.filter((p) => p.subject.includes('lost'))).toHaveLength(1);
  });

  it('bounds a page whatever an agent put into what it quotes: one line of printable ASCII, at most 100 and 8,000 characters', async () => {
    const t = await setup();
    const hostile = `boom\r\nSubject: forged\u0000 ${'é'.repeat(50)}${'x'.repeat(400_000)}`;
    await t.tick();
    t.state.runs.set('editor', [run('editor', t.clock.now() + MINUTE, { status: 'failed', taskId: hostile, detail: hostile })]);
    await t.tick();
    expect(t.pages).toHaveLength(1);
    const [page] = t.pages;
    expect(page!.subject).toMatch(/^[\x20-\x7e]{1,100}$/);
    expect(page!.message.length).toBeLessThanOrEqual(PAGE_MESSAGE_MAX);
    expect(page!.message).toMatch(/more characters cut\)$/);
    const forged = boundedPage(`[news] ${hostile}`, hostile);
    expect(forged.subject).toMatch(/^\[news\] boom Subject: forged [\x20-\x7e]*\.\.\.$/);
    expect(forged.subject.length).toBe(100);
  });
});
