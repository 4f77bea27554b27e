import { describe, expect, it } from 'vitest';
import { parseCron, toEventBridgeCron } from '../../src/config/cron.ts';

const eventBridge = (expression: string) => toEventBridgeCron(parseCron(expression));

describe('cron translation to EventBridge Scheduler', () => {
  it.each([
    ['0 3 * * *', 'cron(0 3 * * ? *)'],
    ['*/15 * * * *', 'cron(0/15 * * * ? *)'],
    ['5/20 8-10 * * *', 'cron(5/20 8-10 * * ? *)'],
    ['0 9 * * 1-5', 'cron(0 9 ? * MON-FRI *)'],
    ['0 9 * * 0', 'cron(0 9 ? * SUN *)'],
    ['0 9 * * 7', 'cron(0 9 ? * SUN *)'],
    ['0 9 * * 5-7', 'cron(0 9 ? * SUN,FRI-SAT *)'],
    ['0 9 * * sat,sun', 'cron(0 9 ? * SUN,SAT *)'],
    ['30 6 1,15 jan-mar *', 'cron(30 6 1,15 1-3 ? *)'],
    ['0 0 1 */3 *', 'cron(0 0 1 1/3 ? *)'],
    ['0,30 * * * *', 'cron(0,30 * * * ? *)'],
  ])('translates %s to %s', (crontab, expected) => {
    expect(eventBridge(crontab)).toBe(expected);
  });

  it('moves crontab day-of-week numbering (0 = Sunday) to names, so Monday stays Monday', () => {
    expect(eventBridge('0 12 * * 1')).toBe('cron(0 12 ? * MON *)');
  });

  it.each([
    ['0 25 * * *', "hour '25' is out of range 0-23"],
    ['60 * * * *', "minute '60' is out of range 0-59"],
    ['0 0 0 * *', "day-of-month '0' is out of range 1-31"],
    ['0 0 * 13 *', "month '13' is out of range 1-12"],
    ['0 0 * * 8', "day-of-week '8' is out of range 0-7"],
    ['0 0 * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
    ['0 0 * * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 6'],
    ['*/0 * * * *', "minute field '*/0' has a step of 0"],
    ['0 10-2 * * *', "hour field '10-2' has a range that runs backwards"],
    ['0 0 L * *', "day-of-month field 'L': 'L' is not a number or a known name"],
    ['0 0 ? * *', "day-of-month field '?' is not a value, range, list or step"],
  ])('rejects %s: %s', (crontab, message) => {
    expect(() => eventBridge(crontab)).toThrow(message);
  });

  it('rejects restricting both day fields, which EventBridge cannot express', () => {
    expect(() => eventBridge('0 0 1 * 1')).toThrow(/restricts both day-of-month and day-of-week/);
  });

  it('expands each field to the values it matches', () => {
    expect(parseCron('*/20 1-3 * * 6,7')).toMatchObject({ minute: [0, 20, 40], hour: [1, 2, 3], dayOfWeek: [0, 6] });
  });
});
