import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { renderReport, writeReport } from '../../local/report.ts';
import { simulate } from '../../local/runner.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { DETAIL_SHIFT, referenceRuns } from '../support/reference-runs.ts';

/** The report in a real browser: Debian's Chromium, driven by playwright-core. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let browser: Awaited<ReturnType<typeof chromium.launch>>;
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(() => browser?.close());

describe('local run report', () => {
  // The suite's shared 3am day (`reference-runs.ts`); the hang guard holds while it is still running.
  it('renders offline with charts that have data, showing the 3am burst and the halt', { timeout: 600_000 }, async () => {
    const result = (await referenceRuns(DETAIL_SHIFT)).scenarios['3am'].result;
    const file = join(mkdtempSync(join(tmpdir(), 'nightshift-report-')), 'report.html');
    writeReport(file, result);

    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    type PageCharts = {
      nightshiftCharts?: { canvas: { id: string; width: number }; config: { type: string }; options: { scales: { y: { max?: number } } }; data: { labels: string[]; datasets: { label: string; data: (number | null)[] }[] } }[];
    };
    await page.waitForFunction(() => (globalThis as PageCharts).nightshiftCharts?.length === 6);
    const charts = await page.evaluate(() =>
      (globalThis as PageCharts).nightshiftCharts!.map((c) => ({
        id: c.canvas.id,
        width: c.canvas.width,
        type: c.config.type,
        yMax: c.options.scales.y.max,
        labels: c.data.labels,
        datasets: c.data.datasets.map((d) => {
          const values = d.data.filter((v): v is number => v !== null);
          return { label: d.label, max: Math.max(...values), min: Math.min(...values), at: d.data.findIndex((v) => v !== null) };
        }),
      })),
    );
    expect(charts.map((c) => c.id)).toEqual(['outputs', 'burst', 'breaker', 'heartbeats', 'updates', 'tokens']);
    const chart = (id: string) => charts.find((c) => c.id === id)!;
    expect(charts.every((c) => c.width > 0)).toBe(true);
    const planner = chart('outputs').datasets.find((d) => d.label.startsWith('planner (outputs'))!;
    expect(planner.max).toBeGreaterThanOrEqual(10); // the burst reached the planner's limit
    expect(chart('breaker').datasets[0]!.max).toBe(1); // and the breaker opened
    const [lazy, full] = chart('tokens').datasets;
    expect(full!.max).toBeGreaterThan(0); // context tokens were recorded, lazily loaded ≤ everything
    expect(lazy!.max).toBeLessThanOrEqual(full!.max);
    expect(await page.locator('#timeline tr.alert').count()).toBe(1);

    // Every axis is UTC; no heartbeat age is negative, and each is drawn against its agent's staleness threshold.
    expect(chart('outputs').labels.every((l) => /^\d\d:\d\dZ$/.test(l))).toBe(true);
    const ages = chart('heartbeats').datasets.filter((d) => !d.label.includes('stale after'));
    expect(ages.map((d) => d.min).every((m) => m >= 0)).toBe(true);
    expect(chart('heartbeats').datasets.map((d) => d.label)).toContain('planner stale after 15 min');
    // The halted agents' ages grow for hours: the axis stops at 3x the largest threshold, so the thresholds can be read.
    const cap = 3 * Math.max(...Object.values(result.staleAfterMinutes));
    expect(chart('heartbeats').yMax).toBe(cap);
    expect(Math.max(...ages.map((d) => d.max))).toBe(cap);
    expect(Math.max(...Object.values(result.timeline.heartbeatAgeMinutes).flat().filter((a): a is number => a !== null))).toBeGreaterThan(cap);
    // The burst, minute by minute around the trip: the planner's outputs, the trip minute marked.
    const burst = chart('burst');
    expect(burst.type).toBe('bar');
    expect(burst.labels).toHaveLength(31);
    expect(burst.labels[15]).toMatch(/^03:\d\dZ trip$/);
    const plannerBurst = burst.datasets.find((d) => d.label.startsWith('planner'))!;
    expect(plannerBurst.max).toBeGreaterThanOrEqual(2);
    // The trip is marked where the breaker opened, and the alert is shown as sent: schedules and reset command.
    const tripBar = chart('outputs').datasets.find((d) => d.label.startsWith('breaker tripped'))!;
    expect(tripBar.label).toBe(`breaker tripped ${new Date(result.alerts[0]!.at).toISOString().slice(11, 19)}Z`);
    expect(chart('outputs').labels[tripBar.at]).toBe(`${new Date(result.timeline.at[result.timeline.breaker.indexOf('OPEN')]!).toISOString().slice(11, 16)}Z`);
    expect(await page.locator('#trip').textContent()).toMatch(/^Breaker tripped at 2026-11-25T03:\d\d:\d\d\.\d{3}Z: \[nightshift \(dev, local\)\] circuit breaker OPEN: planner/);
    const alert = await page.locator('#alerts pre').textContent();
    expect(alert).toContain('Schedules disabled: planner-0');
    expect(alert).toContain('resume with: npx nightshift breaker reset --local');
    // Updates: submitted and applied per five minutes, so the chart moves when the pipeline writes.
    // Submitted and applied side by side as bars, so one never hides the other.
    expect(chart('updates').type).toBe('bar');
    const [submitted, applied] = chart('updates').datasets;
    expect(submitted!.max).toBeGreaterThan(0);
    expect(applied!.max).toBeGreaterThan(0);
    // A run whose output was a suppressed duplicate says so.
    expect(await page.locator('#timeline').textContent()).toMatch(/completed: 0 published, 1 suppressed as duplicate/);
    // The injected fault is named at the top and marked on the timeline.
    expect(await page.locator('#faults').textContent()).toBe('Faults injected: loop:planner@03:00');
    expect(await page.locator('#timeline tr.fault').count()).toBe(1);
    expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    await page.close();
  });

  it('says why a chart is empty instead of drawing nothing', async () => {
    // An agent that runs at noon, and an hour from midnight: nothing runs.
    const noon = definePipeline({
      name: 'quiet',
      stage: 'test',
      agents: [{ id: 'noon', entry: 'examples/agents/note-taker.ts', schedules: [{ cron: '0 12 * * *' }], breaker: { maxOutputs: 2, windowMinutes: 60 } }],
      breaker: { maxOutputs: 10, windowMinutes: 60 },
    });
    const result = await simulate({ pipeline: noon, scenario: 'normal', hours: 1, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `report-${randomUUID().slice(0, 8)}` });
    const html = renderReport(result);
    expect(html).toContain('<p class="empty" id="outputs-empty">No agent published an output in this run.</p>');
    expect(html).toContain('<p class="empty" id="heartbeats-empty">No agent beat in this run: no run started.</p>');
    expect(html).toContain('<p class="empty" id="updates-empty">No agent submitted a memory update in this run.</p>');
    expect(html).toContain('<p class="empty" id="tokens-empty">');
    expect(html).toContain('<p id="burst-none">The breaker did not trip: no burst to show minute by minute.</p>');
  });
});
