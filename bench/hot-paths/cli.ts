import { execFileSync } from 'node:child_process';

export interface CliFigures {
  readonly weekSeconds: number;
  readonly helpSeconds: number;
  readonly statusSeconds: number;
  readonly ratioVsHelp: number;
}

/**
 * The CLI as users run it (`npx tsx bin/nightshift.ts`, a fresh process each time): a simulated week of the
 * reference pipeline with `nightshift local`, then `status --local` on the state it left against `--help`, each the
 * median of `samples` alternating runs.
 */
export function runCliBench(stateDir: string, samples = 5): CliFigures {
  const week = time(['local', '--hours', '168', '--state-dir', stateDir]);
  const help: number[] = [];
  const status: number[] = [];
  for (let i = 0; i < samples; i++) {
    help.push(time(['--help']));
    status.push(time(['status', '--local', '--state-dir', stateDir]));
  }
  const helpSeconds = median(help);
  const statusSeconds = median(status);
  return { weekSeconds: week, helpSeconds, statusSeconds, ratioVsHelp: statusSeconds / helpSeconds };
}

function time(args: string[]): number {
  const start = performance.now();
  execFileSync('npx', ['tsx', 'bin/nightshift.ts', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return (performance.now() - start) / 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
