import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inject } from 'vitest';
import type { SimulationResult } from '../../local/runner.ts';
import type { ScenarioName } from '../../local/scenarios.ts';
import type { AwsCall } from '../../src/runtime/aws-calls.ts';
import { SHIFTS, faketime } from './faketime.ts';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export type ShiftName = keyof typeof SHIFTS;

/** One scenario of the reference pipeline over a simulated day, as `scripts/time-travel.ts --out` writes it. */
export interface ReferenceRun {
  readonly prefix: string;
  readonly result: SimulationResult;
  readonly calls: ReadonlyMap<string, readonly AwsCall[]>;
}

export interface ReferenceRuns {
  /** The machine clock the run saw. */
  readonly clock: string;
  readonly runs: readonly { scenario: ScenarioName; passed: boolean; failed: string[] }[];
  readonly chaos: { violations: Record<string, number> };
  readonly passed: boolean;
  readonly scenarios: Readonly<Record<ScenarioName, ReferenceRun>>;
}

/** The shift whose runs the runner's, cost and report tests check in detail. */
export const DETAIL_SHIFT: ShiftName = '500 days ahead of';

const memo = new Map<ShiftName, Promise<ReferenceRuns>>();

/**
 * The reference pipeline's calm day, 3am and crash scenarios (24 simulated hours each) and a chaos seed, run once per
 * `npm test` for each clock shift, with the machine's clock far from the simulated dates: the slow part of the suite,
 * shared by every file that checks it (the time-travel, runner's, cost and report tests), across both workers. The
 * first file to ask starts the run (a directory made atomically is its claim); the others wait for its file.
 */
export function referenceRuns(shift: ShiftName): Promise<ReferenceRuns> {
  let runs = memo.get(shift);
  if (!runs) {
    runs = load(shift);
    memo.set(shift, runs);
  }
  return runs;
}

async function load(shift: ShiftName): Promise<ReferenceRuns> {
  const slug = shift.replace(/\W+/g, '-');
  const dir = inject('referenceRunsDir');
  const out = join(dir, `${slug}.json`);
  const failed = join(dir, `${slug}.failed`);
  if (claim(join(dir, `${slug}.claim`))) {
    const child = execFile(
      faketime(),
      ['-f', SHIFTS[shift].spec, process.execPath, '--conditions=nightshift-source', '--import', TSX, 'scripts/time-travel.ts', '--out', out],
      { env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // A run whose guardrails did not hold still wrote its file (exit code 1): the tests say what failed.
        if (!existsSync(out)) writeFileSync(failed, `time-travel run with the clock ${shift} the simulated dates failed: ${error?.message ?? ''}\n${stdout}\n${stderr}`);
      },
    );
    // A run still going when this worker ends (a test that gave up on it) ends with it.
    process.once('exit', () => child.kill());
  }
  for (;;) {
    if (existsSync(out)) break;
    if (existsSync(failed)) throw new Error(readFileSync(failed, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const parsed = JSON.parse(readFileSync(out, 'utf8')) as Omit<ReferenceRuns, 'scenarios'> & { scenarios: Record<ScenarioName, { prefix: string; result: SimulationResult; calls: Record<string, AwsCall[]> }> };
  const scenarios = Object.fromEntries(
    Object.entries(parsed.scenarios).map(([name, run]) => [name, { prefix: run.prefix, result: run.result, calls: new Map(Object.entries(run.calls)) }]),
  ) as unknown as Record<ScenarioName, ReferenceRun>;
  return { ...parsed, scenarios };
}

function claim(path: string): boolean {
  try {
    mkdirSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}
