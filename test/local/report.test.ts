import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import reference from '../../nightshift.config';
import { writeReport } from '../../local/report';
import { simulate } from '../../local/runner';

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
  it('renders offline with charts that have data, showing the 3am burst and the halt', async () => {
    const result = await simulate({
      pipeline: reference,
      scenario: '3am',
      hours: 6,
      dynamoEndpoint: inject('dynamoEndpoint'),
      tablePrefix: `report-${randomUUID().slice(0, 8)}`,
    });
    const file = join(mkdtempSync(join(tmpdir(), 'nightshift-report-')), 'report.html');
    writeReport(file, result);

    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    type PageCharts = { nightshiftCharts?: { canvas: { id: string; width: number }; data: { labels: string[]; datasets: { label: string; data: (number | null)[] }[] } }[] };
    await page.waitForFunction(() => (globalThis as PageCharts).nightshiftCharts?.length === 5);
    const charts = await page.evaluate(() =>
      (globalThis as PageCharts).nightshiftCharts!.map((c) => ({
        id: c.canvas.id,
        width: c.canvas.width,
        labels: c.data.labels,
        datasets: c.data.datasets.map((d) => {
          const values = d.data.filter((v): v is number => v !== null);
          return { label: d.label, max: Math.max(...values), min: Math.min(...values), at: d.data.findIndex((v) => v !== null) };
        }),
      })),
    );
    expect(charts.map((c) => c.id)).toEqual(['outputs', 'heartbeats', 'updates', 'tokens', 'breaker']);
    expect(charts.every((c) => c.width > 0)).toBe(true);
    const planner = charts[0]!.datasets.find((d) => d.label.startsWith('planner (outputs'))!;
    expect(planner.max).toBeGreaterThanOrEqual(10); // the burst reached the planner's limit
    expect(charts[4]!.datasets[0]!.max).toBe(1); // and the breaker opened
    const [lazy, full] = charts[3]!.datasets;
    expect(full!.max).toBeGreaterThan(0); // context tokens were recorded, lazily loaded ≤ everything
    expect(lazy!.max).toBeLessThanOrEqual(full!.max);
    expect(await page.locator('#timeline tr.alert').count()).toBe(1);

    // Every axis is UTC; no heartbeat age is negative, and each is drawn against its agent's staleness threshold.
    expect(charts[0]!.labels.every((l) => /^\d\d:\d\dZ$/.test(l))).toBe(true);
    const ages = charts[1]!.datasets.filter((d) => !d.label.includes('stale after'));
    expect(ages.map((d) => d.min).every((m) => m >= 0)).toBe(true);
    expect(charts[1]!.datasets.map((d) => d.label)).toContain('planner stale after 15 min');
    // The trip is marked where the breaker opened, and the alert is shown as sent: schedules and reset command.
    const tripBar = charts[0]!.datasets.find((d) => d.label.startsWith('breaker tripped'))!;
    expect(tripBar.label).toBe(`breaker tripped ${new Date(result.alerts[0]!.at).toISOString().slice(11, 19)}Z`);
    expect(charts[0]!.labels[tripBar.at]).toBe(`${new Date(result.timeline.at[result.timeline.breaker.indexOf('OPEN')]!).toISOString().slice(11, 16)}Z`);
    expect(await page.locator('#trip').textContent()).toMatch(/^Breaker tripped at 2026-11-25T03:\d\d:\d\d\.\d{3}Z: \[nightshift \(dev, local\)\] circuit breaker OPEN: planner/);
    const alert = await page.locator('#alerts pre').textContent();
    expect(alert).toContain('Schedules disabled: planner-0');
    expect(alert).toContain('resume with: npx nightshift breaker reset --local');
    // Updates: submitted and applied per five minutes, so the chart moves when the pipeline writes.
    const [submitted, applied] = charts[2]!.datasets;
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
});
