import { describe, expect, it } from 'vitest';
import reference from '../../nightshift.config.ts';
import { ASSUMPTIONS, PRICES, costView, monthlyCost } from '../../cli/cost.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { runsPerMonth } from '../../src/config/schedule-times.ts';
import { DETAIL_SHIFT, referenceRuns } from '../support/reference-runs.ts';

/** `nightshift cost` on the reference pipeline, from a simulated day measured on DynamoDB Local (the suite's shared calm day). */
const day = (await referenceRuns(DETAIL_SHIFT)).scenarios.normal.result;

describe('nightshift cost', () => {
  it('prints a per-service table and a monthly total for the reference pipeline', () => {
    const { text, data } = costView(reference, day);
    const services = ['Lambda requests', 'Lambda compute (arm64)', 'DynamoDB on-demand', 'SQS FIFO', 'EventBridge Scheduler', 'SNS', 'CloudWatch dashboards', 'CloudWatch alarms', 'CloudWatch custom metrics', 'CloudWatch Logs', 'KMS', 'Bedrock (model tokens)'];
    for (const service of services) expect(text).toMatch(new RegExp(`^${service.replace(/[()]/g, '\\$&')}\\s+\\$\\d+\\.\\d\\d  `, 'm'));
    const { lines, total } = data as { lines: { usd: number }[]; total: number };
    expect(total).toBeCloseTo(lines.reduce((sum, l) => sum + l.usd, 0), 9);
    // Both modes side by side, this config's first: its total and the other's.
    const other = monthlyCost(reference, day, 'cloudwatch');
    expect(reference.monitoring).toBe('watch');
    expect(text).toMatch(new RegExp(`^total\\s+\\$${total.toFixed(2)}\\s+\\$${other.total.toFixed(2)}  per month$`, 'm'));
    expect(text).toMatch(/^\s+watch\*\s+cloudwatch$/m);
    expect(text).toContain(`list prices of ${PRICES.date}`);
  });

  it('prices the default monitoring (the watch) at no more than a dollar a month of infrastructure', () => {
    const { data } = costView(reference, day);
    const { infrastructure, modes } = data as { infrastructure: number; modes: Record<'watch' | 'cloudwatch', { infrastructure: number; lines: { service: string; usd: number }[] }> };
    expect(infrastructure).toBe(modes.watch.infrastructure);
    expect(infrastructure).toBeLessThanOrEqual(1);
    // What the watch saves is CloudWatch's custom metrics, alarms and the topic's own key.
    const usd = (mode: 'watch' | 'cloudwatch', service: string) => modes[mode].lines.find((l) => l.service === service)!.usd;
    expect(usd('watch', 'CloudWatch custom metrics')).toBe(0);
    expect(usd('watch', 'KMS')).toBe(0);
    expect(usd('cloudwatch', 'CloudWatch custom metrics')).toBeGreaterThan(0);
    expect(usd('watch', 'CloudWatch alarms')).toBeLessThan(usd('cloudwatch', 'CloudWatch alarms'));
    expect(modes.cloudwatch.infrastructure).toBeGreaterThan(10 * infrastructure);
  });

  it('prices what it measured: units and requests from the simulated day, runs from the schedules and the triggers', () => {
    const { lines } = monthlyCost(reference, day);
    const line = (service: string) => lines.find((l) => l.service === service)!;
    // 12 slots a day on the reference schedules, one weekday-only: 351 runs in a 30-day month of a 365-day year.
    const cloudwatchLine = (service: string) => monthlyCost(reference, day, 'cloudwatch').lines.find((l) => l.service === service)!;
    expect(cloudwatchLine('EventBridge Scheduler').usage).toBe('351 invocations');
    // The watch's own schedule fires every five minutes on top of the agents' runs.
    expect(line('EventBridge Scheduler').usage).toBe(`${(351 + ASSUMPTIONS.watchRunsPerMonth).toLocaleString('en-US')} invocations`);
    expect(day.usage.dynamo.writeUnits).toBeGreaterThan(0);
    expect(day.usage.dynamo.readUnits).toBeGreaterThan(0);
    const runsPerDay = Object.values(day.agents).reduce((sum, a) => sum + a.completed + a.failed + a.halted + a.skipped, 0);
    const scheduledRuns = reference.agents.reduce((sum, a) => sum + runsPerMonth(a.schedules), 0);
    expect(scheduledRuns).toBeCloseTo(351.43, 2);
    // Triggered runs (writer on plans, seo on drafts, community on reviews): as many per scheduled run as the day had.
    const triggered = Object.values(day.agents).reduce((sum, a) => sum + a.triggered, 0);
    expect(triggered).toBeGreaterThan(0);
    const monthlyRuns = scheduledRuns + (triggered * scheduledRuns) / day.totals.slots;
    expect(cloudwatchLine('Lambda requests').usage).toContain(`(${Math.round(monthlyRuns).toLocaleString('en-US')} agent runs,`);
    // The agents' and the steward's writes scale with the runs; the simulated watch's are priced apart.
    const expectedWrites = Math.round(((day.usage.dynamo.writeUnits - (day.usage.watch?.writeUnits ?? 0)) * monthlyRuns) / runsPerDay);
    expect(cloudwatchLine('DynamoDB on-demand').usage).toContain(`${expectedWrites.toLocaleString('en-US')} write units`);
    expect(line('SQS FIFO').usage).toContain(`${ASSUMPTIONS.eventSourcePollsPerMonth.toLocaleString('en-US')} of them event-source polls`);
    // Every model the reference pipeline calls is in the price table.
    expect(monthlyCost(reference, day).unpricedModels).toEqual([]);
    expect(line('Bedrock (model tokens)').usd).toBeGreaterThan(0);
  });

  it('scales with the schedules: twice the runs, twice the requests', () => {
    const doubled = definePipeline({
      ...reference,
      agents: reference.agents.map((a) => ({ ...a, schedules: a.schedules.flatMap((s) => [s, { ...s, cron: s.cron.replace(/^(\d+)/, (m) => String((Number(m) + 1) % 60)) }]) })),
    });
    const usd = (pipeline: typeof reference, service: string, mode: 'watch' | 'cloudwatch') =>
      monthlyCost(pipeline, day, mode).lines.find((l) => l.service === service)!.usd;
    for (const service of ['Lambda requests', 'DynamoDB on-demand']) {
      expect(usd(doubled, service, 'cloudwatch')).toBeCloseTo(2 * usd(reference, service, 'cloudwatch'), 9);
      // The watch costs the same whatever the schedules: only what the agents' runs cost doubles.
      const watchShare = usd(reference, service, 'watch') - usd(reference, service, 'cloudwatch');
      expect(watchShare).toBeGreaterThan(0);
      expect(usd(doubled, service, 'watch') - usd(doubled, service, 'cloudwatch')).toBeCloseTo(watchShare, 9);
    }
  });
});
