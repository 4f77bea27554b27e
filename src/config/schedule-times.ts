import { Cron } from 'croner';

/** One cron entry of an agent, as the config holds it. */
export interface ScheduleEntry {
  readonly cron: string;
  readonly timeZone: string;
}

const DAY = 86_400_000;

/** Every time the schedules fire in `[from, to)`, merged and sorted (epoch ms), each in its own time zone. */
export function fireTimes(schedules: readonly ScheduleEntry[], from: number, to: number): number[] {
  const times: number[] = [];
  for (const entry of schedules) {
    const cron = new Cron(entry.cron, { timezone: entry.timeZone, paused: true });
    for (let at = cron.nextRun(new Date(from - 1)); at && at.getTime() < to; at = cron.nextRun(at)) times.push(at.getTime());
  }
  return times.sort((a, b) => a - b);
}

/** The next `count` fire times of one entry after `after` (epoch ms). */
export function nextFireTimes(entry: ScheduleEntry, after: number, count: number): number[] {
  const cron = new Cron(entry.cron, { timezone: entry.timeZone, paused: true });
  return cron.nextRuns(count, new Date(after)).map((d) => d.getTime());
}

/**
 * The longest wait between two consecutive runs the schedules ask for, over a whole year from a fixed date (so a
 * template does not change with the day it is synthesized, and daylight-saving days and short months are seen).
 */
export function longestGapMs(schedules: readonly ScheduleEntry[]): number {
  const from = Date.UTC(2026, 0, 1);
  const times = fireTimes(schedules, from, from + 400 * DAY);
  if (times.length < 2) return 366 * DAY;
  let longest = 0;
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
  return longest;
}

/** Runs per 30-day month the schedules ask for, averaged over a year from a fixed date. */
export function runsPerMonth(schedules: readonly ScheduleEntry[]): number {
  const from = Date.UTC(2026, 0, 1);
  return (fireTimes(schedules, from, from + 365 * DAY).length * 30) / 365;
}
