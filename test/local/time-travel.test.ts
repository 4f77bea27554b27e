import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SHIFTS, faketime } from '../support/faketime.ts';

const run = promisify(execFile);
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const DAY = 86_400_000;

/**
 * Nothing that runs on the real clock may act on simulated state. The calm day, the 3am and crash scenarios and a
 * chaos seed run with the machine's clock (Node's and DynamoDB Local's JVM's) more than a year ahead of the
 * simulated dates, and behind them.
 */
describe.each(Object.entries(SHIFTS))('with the machine clock %s the simulated dates', (_, shift) => {
  it('holds every guardrail on the calm day, at 3am, through the crash, and under chaos', async () => {
    const { stdout } = await run(faketime(), ['-f', shift.spec, process.execPath, '--conditions=nightshift-source', '--import', TSX, 'scripts/time-travel.ts'], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      maxBuffer: 4 * 1024 * 1024,
    }).catch((error: { stdout: string; stderr: string }) => {
      throw new Error(`time-travel run failed:\n${error.stdout}\n${error.stderr}`);
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { clock: string; runs: { scenario: string; failed: string[] }[]; chaos: { violations: object }; passed: boolean };
    // The run really saw the shifted clock.
    expect(Math.abs(Date.parse(report.clock) - shift.target)).toBeLessThan(2 * DAY);
    expect(report.runs.map((r) => [r.scenario, r.failed])).toEqual([
      ['normal', []],
      ['3am', []],
      ['crash', []],
    ]);
    expect(report.chaos.violations).toEqual({});
    expect(report.passed).toBe(true);
  });
});
