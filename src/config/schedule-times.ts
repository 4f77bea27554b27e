import { Cron } from 'croner';
import { parseCron } from './cron.ts';

/** One cron entry of an agent, as the config holds it. */
export interface ScheduleEntry {
  readonly cron: string;
  readonly timeZone: string;
}

const DAY = 86_400_000;
/** Fixed, so a template does not change with the day it is synthesized. */
const BASE = Date.UTC(2026, 0, 1);

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
 * The longest wait between two consecutive runs the schedules ask for. Schedules that pick days of the month or
 * months are followed for a year; weekly patterns for two weeks plus two days either side of each daylight-saving
 * change of their zones in the year (where a 02:30 run is skipped or an hour is lost).
 */
export function longestGapMs(schedules: readonly ScheduleEntry[]): number {
  const key = JSON.stringify(schedules);
  const cached = gapCache.get(key);
  if (cached !== undefined) return cached;
  let longest = 0;
  for (const [from, to] of windows(schedules)) {
    const times = fireTimes(schedules, from, to);
    if (times.length < 2) {
      longest = Math.max(longest, yearlyGap(schedules));
      break;
    }
    for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
  }
  gapCache.set(key, longest);
  return longest;
}

/** Runs per 30-day month the schedules ask for (averaged over a year when they pick days of the month). */
export function runsPerMonth(schedules: readonly ScheduleEntry[]): number {
  if (followsTheCalendar(schedules)) return (fireTimes(schedules, BASE, BASE + 365 * DAY).length * 30) / 365;
  return (fireTimes(schedules, BASE, BASE + 14 * DAY).length * 30) / 14;
}

const gapCache = new Map<string, number>();

function yearlyGap(schedules: readonly ScheduleEntry[]): number {
  const times = fireTimes(schedules, BASE, BASE + 400 * DAY);
  if (times.length < 2) return 366 * DAY;
  let longest = 0;
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
  return longest;
}

function followsTheCalendar(schedules: readonly ScheduleEntry[]): boolean {
  return schedules.some((s) => {
    const parsed = parseCron(s.cron);
    return parsed.dayOfMonth.length < 31 || parsed.month.length < 12;
  });
}

function windows(schedules: readonly ScheduleEntry[]): [number, number][] {
  if (followsTheCalendar(schedules)) return [[BASE, BASE + 400 * DAY]];
  const result: [number, number][] = [[BASE, BASE + 15 * DAY]];
  for (const zone of new Set(schedules.map((s) => s.timeZone))) {
    for (const change of offsetChanges(zone)) result.push([change - 2 * DAY, change + 2 * DAY]);
  }
  return result;
}

/** Days in the year (noon UTC) on which the zone's UTC offset differs from the day before. */
function offsetChanges(timeZone: string): number[] {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  const offset = (at: number) => format.formatToParts(new Date(at)).find((p) => p.type === 'timeZoneName')?.value;
  const changes: number[] = [];
  let previous = offset(BASE + DAY / 2);
  for (let day = 1; day <= 366; day++) {
    const at = BASE + day * DAY + DAY / 2;
    const current = offset(at);
    if (current !== previous) changes.push(at);
    previous = current;
  }
  return changes;
}
