import { execFileSync } from 'node:child_process';
import { SIMULATION_START } from '../../local/runner.ts';

const DAY = 86_400_000;

/**
 * Clock shifts for running a command with the machine's clock far from the simulated dates: Debian's `faketime`
 * (libfaketime) moves the clock of the process and of everything it starts (DynamoDB Local's JVM too). The shifts
 * are computed from today, so the shifted clock lands at the same distance from the simulated start on any date.
 */
export const SHIFTS = {
  '500 days ahead of': shiftTo(SIMULATION_START.getTime() + 500 * DAY),
  '400 days behind': shiftTo(SIMULATION_START.getTime() - 400 * DAY),
} as const;

export type Shift = (typeof SHIFTS)[keyof typeof SHIFTS];

function shiftTo(target: number) {
  const days = Math.round((target - Date.now()) / DAY);
  return { target, spec: `${days >= 0 ? '+' : ''}${days}d` };
}

/** The faketime command, or an error saying how to install it (the suite needs it: `.ci/run` installs it). */
export function faketime(): string {
  try {
    execFileSync('faketime', ['-f', '+0d', 'true']);
    return 'faketime';
  } catch {
    throw new Error('faketime is needed for the time-travel tests: apt-get install faketime (.ci/run installs it)');
  }
}
