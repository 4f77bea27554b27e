import { NightshiftError } from '../errors.ts';

/**
 * Standard five-field cron (`minute hour day-of-month month day-of-week`), the form users already know from
 * crontab, validated here and translated to EventBridge Scheduler's six-field `cron()` form.
 *
 * Why not pass EventBridge syntax straight through: the local runner fires the same schedules with a standard cron
 * library, and EventBridge differs in ways that silently shift a schedule (day-of-week 1 is Sunday there, Monday in
 * crontab; one of the two day fields must be `?`). One input form, one translation, tested.
 */

/** A cron expression that cannot be used, with a message naming the field and the reason. */
export class CronError extends NightshiftError {
  override readonly name = 'CronError';
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Offset of `names[0]` from `min`. */
  readonly nameBase?: number;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  // 7 is accepted as Sunday, as in crontab; it is folded to 0 below.
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

/** A validated cron expression: the sorted values each field matches. */
export interface ParsedCron {
  readonly expression: string;
  readonly minute: readonly number[];
  readonly hour: readonly number[];
  readonly dayOfMonth: readonly number[];
  readonly month: readonly number[];
  /** 0 = Sunday … 6 = Saturday. */
  readonly dayOfWeek: readonly number[];
}


/** Parses a five-field cron expression; throws {@link CronError} naming the bad field. */
export function parseCron(expression: string): ParsedCron {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length} in '${expression}'`,
    );
  }
  const [minute, hour, dayOfMonth, month, dayOfWeek] = parts.map((text, i) => parseField(text, FIELDS[i]!));
  return {
    expression,
    minute: minute!,
    hour: hour!,
    dayOfMonth: dayOfMonth!,
    month: month!,
    dayOfWeek: [...new Set(dayOfWeek!.map((d) => d % 7))].sort((a, b) => a - b),
  };
}

function parseField(text: string, spec: FieldSpec): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
    if (!match) {
      throw new CronError(`${spec.name} field '${text}' is not a value, range, list or step`);
    }
    const [, base, stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw new CronError(`${spec.name} field '${text}' has a step of 0`);
    let from: number;
    let to: number;
    if (base === '*') {
      from = spec.min;
      to = spec.max;
    } else {
      const [low, high] = base!.split('-');
      from = parseValue(low!, spec, text);
      // `5/15` means "from 5 to the end, every 15", as in crontab.
      to = high !== undefined ? parseValue(high, spec, text) : stepText !== undefined ? spec.max : from;
      if (to < from) throw new CronError(`${spec.name} field '${text}' has a range that runs backwards`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function parseValue(token: string, spec: FieldSpec, fieldText: string): number {
  const nameIndex = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (nameIndex >= 0) return nameIndex + (spec.nameBase ?? 0);
  if (!/^\d+$/.test(token)) {
    throw new CronError(`${spec.name} field '${fieldText}': '${token}' is not a number or a known name`);
  }
  const value = Number(token);
  if (value < spec.min || value > spec.max) {
    throw new CronError(`${spec.name} '${value}' is out of range ${spec.min}-${spec.max}`);
  }
  return value;
}

/**
 * Translates a parsed expression to EventBridge Scheduler's `cron(minutes hours day-of-month month day-of-week year)`.
 * Throws {@link CronError} for the one crontab meaning EventBridge cannot express: both day-of-month and day-of-week
 * restricted (crontab fires on either).
 */
export function toEventBridgeCron(cron: ParsedCron): string {
  const everyDayOfMonth = cron.dayOfMonth.length === 31;
  const everyDayOfWeek = cron.dayOfWeek.length === 7;
  if (!everyDayOfMonth && !everyDayOfWeek) {
    throw new CronError(
      `'${cron.expression}' restricts both day-of-month and day-of-week; EventBridge Scheduler cannot express ` +
        'crontab\'s "either day" rule — use two schedules',
    );
  }
  const fields = [
    compact(cron.minute, 0, 59, String),
    compact(cron.hour, 0, 23, String),
    everyDayOfWeek ? compact(cron.dayOfMonth, 1, 31, String) : '?',
    compact(cron.month, 1, 12, String),
    everyDayOfWeek ? '?' : compact(cron.dayOfWeek, 0, 6, (d) => DAY_NAMES[d]!, false),
    '*',
  ];
  const rendered = `cron(${fields.join(' ')})`;
  if (rendered.length > 256) {
    throw new CronError(`'${cron.expression}' translates to ${rendered.length} characters; EventBridge allows 256`);
  }
  return rendered;
}

/** Renders a value set in the shortest form EventBridge accepts: `*`, `start/step`, or ranges and lists. */
function compact(
  values: readonly number[],
  min: number,
  max: number,
  label: (v: number) => string,
  allowStep = true,
): string {
  if (values.length === max - min + 1) return '*';
  const first = values[0]!;
  if (allowStep && values.length > 2) {
    const step = values[1]! - first;
    const isProgression = values.every((v, i) => v === first + i * step);
    if (isProgression && step > 1 && values.at(-1)! + step > max) return `${first}/${step}`;
  }
  const runs: string[] = [];
  let start = first;
  let previous = first;
  for (const v of [...values.slice(1), Number.NaN]) {
    if (v === previous + 1) {
      previous = v;
      continue;
    }
    runs.push(start === previous ? label(start) : `${label(start)}-${label(previous)}`);
    start = previous = v;
  }
  return runs.join(',');
}
