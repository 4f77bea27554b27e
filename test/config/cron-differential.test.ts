import awsCronParser from 'aws-cron-parser';
import { Cron } from 'croner';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCron, toEventBridgeCron } from '../../src/config/cron.ts';

/**
 * The crontab → EventBridge translation checked against two implementations nobody here wrote: for generated
 * crontab expressions, croner's fire times for the crontab form must equal aws-cron-parser's for the EventBridge
 * form we deploy. Both in UTC: the schedule's time zone is applied by EventBridge Scheduler
 * (`ScheduleExpressionTimezone`), not by the expression, so the translation does not depend on it.
 *
 * Days of the month stop at 28: aws-cron-parser rolls a day a month lacks (Feb 29 in 2026, the 31st of April) into
 * the next month, which EventBridge does not; those days are covered by the cron tests against croner alone.
 */
const field = (min: number, max: number, names: readonly string[] = []) => {
  const value = fc.integer({ min, max });
  const named = names.length ? fc.oneof(value.map(String), fc.constantFrom(...names)) : value.map(String);
  const range = fc.tuple(value, value).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = fc.tuple(fc.oneof(fc.constant('*'), range), fc.integer({ min: 1, max: Math.max(1, max - min) })).map(([base, n]) => `${base}/${n}`);
  const list = fc.array(fc.oneof(value.map(String), range), { minLength: 2, maxLength: 4 }).map((items) => items.join(','));
  return fc.oneof({ weight: 3, arbitrary: fc.constant('*') }, { weight: 2, arbitrary: named }, { weight: 2, arbitrary: range }, { weight: 2, arbitrary: step }, { weight: 1, arbitrary: list });
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const expression = fc
  .tuple(field(0, 59), field(0, 23), field(1, 28), field(1, 12, MONTHS), field(0, 7, DAYS), fc.boolean())
  // EventBridge cannot say "either day", so one of the two day fields stays `*` (the translation refuses both).
  .map(([minute, hour, dom, month, dow, byWeekday]) => [minute, hour, byWeekday ? '*' : dom, month, byWeekday ? dow : '*'].join(' '));

function awsFireTimes(eventBridge: string, from: Date, count: number): number[] {
  const cron = awsCronParser.parse(eventBridge.replace(/^cron\((.*)\)$/, '$1'));
  const times: number[] = [];
  let at: Date | null = new Date(from.getTime() - 1);
  for (let i = 0; i < count && at; i++) {
    at = awsCronParser.next(cron, at);
    if (at) times.push(at.getTime());
  }
  return times;
}

describe('cron translation, differentially', () => {
  it('fires at the same times as crontab (croner) once translated for EventBridge (aws-cron-parser)', () => {
    fc.assert(
      fc.property(expression, fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2028-12-31T00:00:00Z'), noInvalidDate: true }), (crontab, from) => {
        const eventBridge = toEventBridgeCron(parseCron(crontab));
        const cron = new Cron(crontab, { timezone: 'UTC', paused: true });
        const expected = cron.nextRuns(12, new Date(from.getTime() - 1)).map((d) => d.getTime());
        expect({ crontab, eventBridge, times: awsFireTimes(eventBridge, from, 12) }).toEqual({ crontab, eventBridge, times: expected });
      }),
      { numRuns: 400, seed: 17 },
    );
  });
});
