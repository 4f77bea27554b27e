import { describe, expect, it } from 'vitest';
import { SHIFTS } from '../support/faketime.ts';
import { type ShiftName, referenceRuns } from '../support/reference-runs.ts';

const DAY = 86_400_000;

/**
 * Nothing that runs on the real clock may act on simulated state. The calm day, the 3am and crash scenarios and a
 * chaos seed run with the machine's clock (Node's and DynamoDB Local's JVM's) more than a year ahead of the
 * simulated dates, and behind them (`reference-runs.ts`; the runner's tests check the runs in detail).
 */
// Both shifts' runs start now, side by side (a failure is reported by the test that awaits it).
for (const shift of Object.keys(SHIFTS) as ShiftName[]) referenceRuns(shift).catch(() => undefined);

describe.each(Object.keys(SHIFTS) as ShiftName[])('with the machine clock %s the simulated dates', (shift) => {
  // A hang guard: the shared runs take about a minute on a loaded 2-core machine.
  it('holds every guardrail on the calm day, at 3am, through the crash, and under chaos', { timeout: 600_000 }, async () => {
    const report = await referenceRuns(shift);
    // The run really saw the shifted clock.
    expect(Math.abs(Date.parse(report.clock) - SHIFTS[shift].target)).toBeLessThan(2 * DAY);
    expect(report.runs.map((r) => [r.scenario, r.failed])).toEqual([
      ['normal', []],
      ['3am', []],
      ['crash', []],
    ]);
    expect(report.chaos.violations).toEqual({});
    expect(report.passed).toBe(true);
  });
});
