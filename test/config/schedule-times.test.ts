import { describe, expect, it } from 'vitest';
import { longestGapMs, nextFireTimes, runsPerMonth } from '../../src/config/schedule-times.ts';

const HOUR = 3_600_000;

describe('schedule times', () => {
  it('finds the longest gap where daylight saving moves or skips a run', () => {
    // 02:30 New York does not exist on the spring-forward day: the run after it is 25 hours on.
    expect(longestGapMs([{ cron: '30 2 * * *', timeZone: 'America/New_York' }])).toBe(25 * HOUR);
    // Every 5 minutes, except across the lost hour.
    expect(longestGapMs([{ cron: '*/5 * * * *', timeZone: 'America/New_York' }])).toBe(65 * 60_000);
    // UTC never shifts; weekdays-only leaves the weekend.
    expect(longestGapMs([{ cron: '0 9 * * 1-5', timeZone: 'UTC' }])).toBe(72 * HOUR);
    // Several entries merge: the gap is between any two consecutive runs.
    expect(longestGapMs([{ cron: '0 1 * * *', timeZone: 'UTC' }, { cron: '0 13 * * *', timeZone: 'UTC' }])).toBe(12 * HOUR);
  });

  it('follows schedules that pick days of the month for a whole year', () => {
    expect(longestGapMs([{ cron: '0 3 1 * *', timeZone: 'UTC' }])).toBe(31 * 24 * HOUR);
    expect(runsPerMonth([{ cron: '0 3 1 * *', timeZone: 'UTC' }])).toBeCloseTo((12 * 30) / 365, 9);
  });

  it('counts runs per 30-day month', () => {
    expect(runsPerMonth([{ cron: '15 */6 * * *', timeZone: 'Europe/Berlin' }])).toBe(120);
    expect(runsPerMonth([{ cron: '0 9 * * 1-5', timeZone: 'America/New_York' }])).toBeCloseTo((10 * 30) / 14, 9);
  });

  it('lists the next fire times in the schedule\'s zone', () => {
    expect(nextFireTimes({ cron: '0 9 * * *', timeZone: 'Asia/Tokyo' }, Date.UTC(2026, 10, 25, 0, 30), 2)).toEqual([
      Date.UTC(2026, 10, 26, 0, 0),
      Date.UTC(2026, 10, 27, 0, 0),
    ]);
  });
});
