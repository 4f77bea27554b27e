import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { FaultError, busiestWindow, parseFaults } from '../../local/faults.ts';
import { SIMULATION_START, simulate } from '../../local/runner.ts';
import { formatSummary } from '../../local/summary.ts';
import { type PipelineInput, definePipeline } from '../../src/config/pipeline.ts';

const entry = 'examples/agents/note-taker.ts';
const memory = { reads: ['notes'], writes: ['notes'] };

/** A newsroom on three continents: a chain scout → editor → publisher (each also run by the one before's outputs), small limits. */
const newsroom = definePipeline({
  name: 'newsroom',
  stage: 'test',
  agents: [
    { id: 'scout', entry, memory, schedules: [{ cron: '0 6 * * *', timeZone: 'Europe/Berlin' }], breaker: { maxOutputs: 3, windowMinutes: 30 } },
    { id: 'editor', entry, memory, upstream: ['scout'], triggers: [{ outputsOf: 'scout' }], schedules: [{ cron: '30 6,12 * * *', timeZone: 'UTC' }], breaker: { maxOutputs: 4, windowMinutes: 60 } },
    { id: 'publisher', entry, memory, upstream: ['editor'], triggers: [{ outputsOf: 'editor' }], schedules: [{ cron: '0 16 * * *', timeZone: 'Asia/Tokyo' }], breaker: { maxOutputs: 2, windowMinutes: 60 } },
  ],
  breaker: { maxOutputs: 20, windowMinutes: 60 },
  embeddings: false, // its agents read memory by key, never by meaning
} satisfies PipelineInput);

/** A support desk: triage fans out to billing and tech, whose work a digest joins; short leases. */
const support = definePipeline({
  name: 'support',
  stage: 'test',
  agents: [
    { id: 'triage', entry, memory, schedules: [{ cron: '0 */2 * * *' }], breaker: { maxOutputs: 6, windowMinutes: 60 }, lock: { leaseMinutes: 10 }, heartbeat: { intervalMinutes: 2, staleAfterMinutes: 10 }, timeoutSeconds: 300 },
    { id: 'billing', entry, memory, upstream: ['triage'], schedules: [{ cron: '15 10 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } },
    { id: 'tech', entry, memory, upstream: ['triage'], schedules: [{ cron: '45 10 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } },
    { id: 'digest', entry, memory, upstream: ['billing', 'tech'], schedules: [{ cron: '0 12 * * *' }], breaker: { maxOutputs: 2, windowMinutes: 120 } },
  ],
  breaker: { maxOutputs: 30, windowMinutes: 60 },
  embeddings: false, // its agents read memory by key, never by meaning
} satisfies PipelineInput);

const run = (pipeline: typeof newsroom, injected: string[], hours = 14) =>
  simulate({
    pipeline,
    scenario: 'normal',
    inject: injected,
    hours,
    dynamoEndpoint: inject('dynamoEndpoint'),
    tablePrefix: `faults-${pipeline.name}-${randomUUID().slice(0, 8)}`,
  });

const failed = (checks: readonly { ok: boolean; name: string; detail: string }[]) => checks.filter((c) => !c.ok).map((c) => `${c.name} (${c.detail})`);

describe('fault injection on pipelines other than the reference one', () => {
  it('rehearses a loop in a Berlin/UTC/Tokyo chain: one alert, within each N, breaker open, schedules off, later runs refused', async () => {
    const result = await run(newsroom, ['loop:scout@08:00[Europe/Berlin]']);
    expect(result.faults).toEqual(['loop:scout@08:00[Europe/Berlin]']);
    expect(failed(result.checks)).toEqual([]);
    const names = result.checks.map((c) => c.name);
    expect(names).toContain('loop scout: its outputs published since 07:00 ≤ its N (3 per 30 min)');
    expect(names).toContain("loop scout: publisher's outputs published since 07:00 ≤ that agent’s N (2 per 60 min)");
    expect(names).toContain("loop: pipeline outputs published since 07:00 ≤ the pipeline's N (20 per 60 min)");
    expect(result.alerts).toHaveLength(1);
    expect(result.breaker).toBe('OPEN');
    expect(Object.values(result.schedules).every((on) => !on)).toBe(true);
    // The loop ran through the real handlers and cascaded: the publisher, with the smallest N, tripped first.
    expect(result.alerts[0]!.subject).toMatch(/circuit breaker OPEN: publisher \(outputs\)/);
    expect(result.runs.filter((r) => r.agentId === 'scout' && r.status === 'halted').length).toBeGreaterThan(5);
    expect(result.events.some((e) => e.kind === 'fault' && e.agentId === 'scout')).toBe(true);
  });

  it('rehearses a crash in a fan-out: downstream degraded while stale, the retry takes the lease over, nothing lost', async () => {
    const result = await run(support, ['crash:triage@09:00[Europe/London]']);
    expect(failed(result.checks)).toEqual([]);
    expect(result.checks.find((c) => c.name.startsWith('crash triage: billing ran degraded'))?.detail).toBe('1 run(s) degraded');
    expect(result.checks.find((c) => c.name.startsWith("crash triage: the 10:00 slot's redelivery took the expired lease over (lease 10 min)"))?.ok).toBe(true);
    expect(result.takeovers).toBe(1);
    expect(result.runs.find((r) => r.agentId === 'tech')).toMatchObject({ degraded: false }); // after the retry succeeded
  });

  it('rehearses a failed run: the agents downstream run degraded until it succeeds again', async () => {
    const result = await run(support, ['fail:tech@10:30']);
    expect(failed(result.checks)).toEqual([]);
    expect(result.checks.find((c) => c.name.startsWith('fail tech: digest ran degraded'))?.detail).toBe('1 run(s) degraded');
    expect(result.runs.find((r) => r.agentId === 'tech')).toMatchObject({ status: 'fail' });
  });

  it('rehearses a silenced agent: the watch pages it once within its gap plus grace, and nobody else as silent', async () => {
    const result = await run(support, ['silence:triage@03:00'], 8);
    expect(failed(result.checks)).toEqual([]);
    // Every two hours, last run 02:00: silent after 120 + 15 min, paged by the first watch run after 04:15.
    const silent = result.pages.filter((p) => /triage is silent/.test(p.subject));
    expect(silent).toHaveLength(1);
    expect(silent[0]!.subject).not.toMatch(/RESOLVED/);
    const start = SIMULATION_START.getTime();
    const pagedAt = new Date(silent[0]!.at).getTime();
    expect(pagedAt).toBeGreaterThan(start + (4 * 60 + 15) * 60_000);
    expect(pagedAt).toBeLessThanOrEqual(start + (4 * 60 + 21) * 60_000);
    expect(result.pages.filter((p) => / is silent/.test(p.subject) && !/triage/.test(p.subject))).toEqual([]);
    expect(result.runs.filter((r) => r.agentId === 'triage' && r.at >= SIMULATION_START.getTime() + 3 * 3_600_000)).toEqual([]);
    expect(result.checks.find((c) => c.name.startsWith('silence triage: paged once'))?.ok).toBe(true);
    expect(result.checks.find((c) => c.name === 'silence triage: resolved once it ran again')?.status).toBe('NOT EXERCISED');
  });

  it('rehearses a silence that ends: paged once, resolved once when the agent runs again; a short one pages nothing', async () => {
    const [long, short] = await Promise.all([run(support, ['silence:triage@03:00-05:00'], 8), run(support, ['silence:triage@03:00-03:30'], 8)]);
    expect(failed(long.checks)).toEqual([]);
    const triage = long.pages.filter((p) => /triage is silent/.test(p.subject));
    expect(triage.map((p) => /RESOLVED/.test(p.subject))).toEqual([false, true]);
    // It resolves at the first watch run once triage's 06:00 run completed.
    const resolvedAt = new Date(triage[1]!.at).getTime() - SIMULATION_START.getTime();
    expect(resolvedAt).toBeGreaterThanOrEqual(6 * 3_600_000);
    expect(resolvedAt).toBeLessThanOrEqual(6 * 3_600_000 + 10 * 60_000);
    expect(long.checks.find((c) => c.name === 'silence triage: resolved once it ran again')?.status).toBe('PASS');
    // Silent 03:00-03:30 skips no slot (it runs every two hours): no page, and the check says why.
    expect(failed(short.checks)).toEqual([]);
    expect(short.pages.filter((p) => /is silent/.test(p.subject))).toEqual([]);
    expect(short.checks.map((c) => c.name)).toContain('silence triage: not paged, it ran again at 04:00 within its longest gap plus grace');
  });

  it('fails a silence rehearsal whose page falls after the simulated hours, and says to run longer', async () => {
    // The scout runs once a day: its silence cannot page within 14 hours.
    const result = await run(newsroom, ['silence:scout@00:00']);
    const check = result.checks.find((c) => c.name.startsWith('silence scout: paged once'))!;
    expect(check).toMatchObject({ ok: false, status: 'NOT EXERCISED' });
    expect(check.detail).toMatch(/after the simulated hours: run more --hours/);
  });

  it('reports a check that cannot hold instead of passing it: a crash with no run left to crash', async () => {
    const result = await run(support, ['crash:digest@13:00'], 14);
    expect(failed(result.checks)).toEqual([
      'crash digest: a run was there to crash (no run of digest (scheduled) at or after 13:00 within the simulated hours; the fault exists to exercise this, so the run fails)',
    ]);
    expect(result.checks.find((c) => !c.ok)?.status).toBe('NOT EXERCISED');
    const summary = formatSummary(result);
    expect(summary).toContain('Rehearsal with injected faults');
    expect(summary).toMatch(/NOT EXERCISED +crash digest: a run was there to crash/);
    expect(result.passed).toBe(false);
  });
});

describe('an agent whose own work throws', () => {
  it('fails its runs without stopping the rest of the pipeline, and the calm-day checks say so', async () => {
    const pipeline = definePipeline({
      name: 'buggy',
      stage: 'test',
      agents: [
        { id: 'broken', entry: 'test/fixtures/agents/broken.ts', schedules: [{ cron: '0 1 * * *' }], breaker: { maxOutputs: 2, windowMinutes: 60 } },
        { id: 'after', entry, memory, upstream: ['broken'], schedules: [{ cron: '0 2 * * *' }], breaker: { maxOutputs: 2, windowMinutes: 60 } },
      ],
      breaker: { maxOutputs: 10, windowMinutes: 60 },
    });
    const result = await run(pipeline, [], 3);
    expect(result.agents.broken).toMatchObject({ completed: 0, failed: 1 });
    expect(result.runs.find((r) => r.agentId === 'after')).toMatchObject({ status: 'completed', degraded: true });
    // The watch paged the failure and the degraded run, as it would have deployed.
    expect(failed(result.checks)).toEqual([
      expect.stringMatching(/^no page \(\[buggy \(test, local\)\] broken's runs fail; .*after runs degraded/),
      'every scheduled slot ran (1 of 2 slots completed)',
      'no degraded run (1 degraded runs)',
    ]);
    // The summary says which run failed and why, not just how many.
    const summary = formatSummary(result);
    expect(summary).toContain("Scenario 'normal' (a calm day)");
    expect(summary).toContain('broken for slot 2026-11-25T01:00:00.000Z: failed: the 01:00 run failed: broken has a bug');
    expect(summary).toContain('  - every scheduled slot ran: 1 of 2 slots completed\n  - no degraded run: 1 degraded runs');
  });
});

describe('the breaker-window count the loop checks use', () => {
  it('counts as the breaker does: one-minute buckets, the current minute and the M-1 before it', () => {
    const at = (minute: number, second = 0) => Date.UTC(2026, 10, 25, 3, minute, second);
    expect(busiestWindow([], 60)).toBe(0);
    expect(busiestWindow([at(0), at(0, 59), at(59, 59)], 60)).toBe(3);
    expect(busiestWindow([at(0, 59), at(60)], 60)).toBe(1); // the breaker has forgotten minute 0 by minute 60
    expect(busiestWindow([at(1), at(1, 30), at(2), at(5)], 2)).toBe(3);
  });
});

describe('--inject parsing', () => {
  it('reads the time in UTC unless a zone is given', () => {
    const start = SIMULATION_START.getTime();
    expect(parseFaults(['crash:editor@06:30'], newsroom, start)).toEqual([{ kind: 'crash', agentId: 'editor', at: Date.UTC(2026, 10, 25, 6, 30), label: 'crash:editor@06:30' }]);
    expect(parseFaults(['loop:publisher@16:00[Asia/Tokyo]'], newsroom, start)[0]!.at).toBe(Date.UTC(2026, 10, 25, 7, 0));
  });

  it('names every bad flag at once, with the agents the pipeline has', () => {
    const attempt = () =>
      parseFaults(
        ['explode:scout@01:00', 'loop:seo@03:00', 'crash:editor@25:00', 'crash:editor@01:00[Mars/Olympus]', 'crash editor', 'fail:scout@01:00-02:00', 'silence:scout@01:00-24:00', 'silence:scout@01:00-01:00'],
        newsroom,
        SIMULATION_START.getTime(),
      );
    expect(attempt).toThrow(FaultError);
    expect(attempt).toThrow(
      [
        "--inject 'explode:scout@01:00': 'explode' is not a fault; use one of loop, crash, fail, silence, stall",
        "--inject 'loop:seo@03:00': no agent 'seo' in pipeline 'newsroom' (agents: scout, editor, publisher)",
        "--inject 'crash:editor@25:00': 25:00 is not a time of day",
        "--inject 'crash:editor@01:00[Mars/Olympus]': 'Mars/Olympus' is not an IANA time zone",
        "--inject 'crash editor': expected <kind>:<agent>@<HH:MM>, e.g. loop:planner@03:00 or crash:writer@14:15[Europe/Berlin]",
        "--inject 'fail:scout@01:00-02:00': only a silence or a stall takes an end time (fail:scout@01:00)",
        "--inject 'silence:scout@01:00-24:00': 24:00 is not a time of day",
        "--inject 'silence:scout@01:00-01:00': the silence ends when it starts (01:00)",
      ].join('\n'),
    );
  });
});
