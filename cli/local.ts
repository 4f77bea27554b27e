import { UsageError } from '../src/errors.ts';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { checkAgentEntries } from '../lib/bundling.ts';
import { loadPipeline } from '../src/config/load.ts';
import { SIMULATION_START, simulate } from '../local/runner.ts';
import { SCENARIOS, type ScenarioName, runFaults } from '../local/scenarios.ts';
import { formatSummary } from '../local/summary.ts';

export interface LocalCommandOptions {
  readonly config: string;
  readonly scenario: string;
  readonly inject?: readonly string[];
  readonly hours: string;
  readonly start?: string;
  readonly resume?: boolean;
  readonly stateDir: string;
  readonly report?: string;
  readonly json?: boolean;
  /** A rehearsal's decisions: every held output approved, or rejected, this many minutes after it was held. */
  readonly approveAfter?: string;
  readonly rejectAfter?: string;
}

/** Marks a directory `nightshift local` created: the only kind it will ever empty. */
const MARKER = '.nightshift-state';

/** Keys of the result that hold times: printed as ISO with `--json`, never as epoch milliseconds. */
const TIME_KEYS = new Set(['start', 'end', 'at', 'slot', 'since', 'beatAt']);

/** `nightshift local`: runs the pipeline on this machine and exits 0 when the scenario's guardrails held. */
export async function localCommand(options: LocalCommandOptions): Promise<number> {
  if (!(options.scenario in SCENARIOS)) {
    throw new UsageError(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}; got '${options.scenario}'`);
  }
  const decideAfter = parseDecideAfter(options);
  const hours = Number(options.hours);
  if (!Number.isFinite(hours) || hours < 1 || hours > 24 * 14) throw new UsageError(`--hours must be a number from 1 to 336; got '${options.hours}'`);
  if (options.resume && (options.start !== undefined || options.scenario !== 'normal')) {
    throw new UsageError('--resume continues the last run from where it ended: it takes no --start and no --scenario (use --inject for faults)');
  }
  const resumed = options.resume ? previousRun(options.stateDir) : undefined;
  const start = resumed ? new Date(resumed.end) : parseStart(options.start);
  const pipeline = await loadPipeline(options.config);
  if (decideAfter && !pipeline.agents.some((a) => a.review)) {
    throw new UsageError(`--${decideAfter.action}-after decides held outputs, and no agent of '${pipeline.name}' has a review policy (agents[].review): nothing is ever held`);
  }
  checkAgentEntries(pipeline);
  const scenario = SCENARIOS[options.scenario as ScenarioName];
  const inject = options.inject ?? [];
  // Faults are checked against the pipeline before anything starts (the runner reads them again with the same start).
  const faults = runFaults(resumed ? 'normal' : scenario.name, inject, pipeline, start.getTime());
  const end = start.getTime() + hours * 3_600_000;
  const late = faults.filter((f) => f.at >= end);
  if (late.length > 0) {
    const hoursNeeded = Math.ceil((Math.max(...late.map((f) => f.at)) - start.getTime()) / 3_600_000) + 1;
    throw new UsageError(
      `--hours ${options.hours} ends the run at ${new Date(end).toISOString()}, before ${late.map((f) => `${f.label} (${new Date(f.at).toISOString()})`).join(', ')}: ` +
        `its checks could not mean anything; run at least --hours ${hoursNeeded}`,
    );
  }
  if (options.report !== undefined) checkWritable(options.report, '--report');
  if (!resumed) emptyStateDir(options.stateDir);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!options.json) {
    const what = resumed
      ? `Resuming the run in ${options.stateDir} from ${start.toISOString()}.`
      : scenario.name === 'normal' && inject.length > 0
        ? `Rehearsing injected faults on pipeline '${pipeline.name}'.`
        : scenario.description;
    log(`nightshift local: ${what}${inject.length ? ` Injected: ${inject.join(', ')}.` : ''}`);
    log(`starting DynamoDB Local (Java) and the local SQS${resumed ? ' on the existing state' : ''}…`);
  }
  const started = performance.now();
  const result = await simulate({
    pipeline,
    scenario: resumed ? 'normal' : scenario.name,
    inject,
    hours,
    start,
    stateDir: options.stateDir,
    ...(resumed ? { resume: { schedules: resumed.schedules } } : {}),
    ...(decideAfter ? { decideAfter } : {}),
    print: options.json ? undefined : log,
    progress: options.json ? undefined : log,
    // The read commands (`status --local`, `memory get --local`) read this snapshot and start nothing.
    onFinished: async ({ dynamoEndpoint, result }) => {
      const [{ localTargetOn }, { saveSnapshot }] = await Promise.all([import('./target.ts'), import('./ops.ts')]);
      await saveSnapshot(localTargetOn(pipeline, options.stateDir, dynamoEndpoint, result), options.stateDir);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(join(options.stateDir, 'run.json'), JSON.stringify({ ...result, wallClockSeconds: seconds }, null, 2));
  if (options.report) {
    const { writeReport } = await import('../local/report.ts');
    writeReport(options.report, result);
  }
  if (options.json) {
    const printed = { ...result, timeline: undefined, events: undefined, wallClockSeconds: seconds };
    process.stdout.write(`${JSON.stringify(printed, (key, value) => (TIME_KEYS.has(key) && typeof value === 'number' ? new Date(value).toISOString() : value))}\n`);
  } else {
    process.stdout.write(`${formatSummary(result)}\n`);
    log(`(${hours} simulated hours in ${seconds.toFixed(1)} s; state kept in ${options.stateDir}${options.report ? `; report: ${options.report}` : ''})`);
  }
  return result.passed ? 0 : 1;
}

/** Throws naming the option when `file` could not be written: its directory is missing or read-only, or it is one. */
function checkWritable(file: string, option: string): void {
  const dir = dirname(resolve(file));
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError('not a directory');
    accessSync(dir, constants.W_OK);
    if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${file} is a directory`);
  } catch (error) {
    throw new UsageError(`${option} ${file} cannot be written (${(error as Error).message}): choose a file in an existing, writable directory`);
  }
}

/** `--approve-after <minutes>` or `--reject-after <minutes>` (one of them): a rehearsal's decisions on held outputs. */
function parseDecideAfter(options: { approveAfter?: string; rejectAfter?: string }): { action: 'approve' | 'reject'; minutes: number } | undefined {
  if (options.approveAfter !== undefined && options.rejectAfter !== undefined) throw new UsageError('choose one of --approve-after and --reject-after: a rehearsal decides every held output one way');
  const [action, text] = options.approveAfter !== undefined ? (['approve', options.approveAfter] as const) : options.rejectAfter !== undefined ? (['reject', options.rejectAfter] as const) : [];
  if (!action) return undefined;
  const minutes = Number(text);
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > 14 * 24 * 60) throw new UsageError(`--${action}-after must be a whole number of minutes from 0 to 20160; got '${text}'`);
  return { action, minutes };
}

/** `--start`: a date (midnight UTC) or an ISO time with a zone. */
function parseStart(text: string | undefined): Date {
  if (text === undefined) return SIMULATION_START;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text) ? new Date(`${text}T00:00:00Z`) : /[zZ]|[+-]\d{2}:\d{2}$/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--start must be a date (2026-03-08) or an ISO time with a zone (2026-03-08T06:00:00Z); got '${text}'`);
  return date;
}

/** The finished run `--resume` continues: where it ended and its schedules as the last local command left them. */
function previousRun(stateDir: string): { end: number; schedules: Record<string, boolean> } {
  const runFile = join(stateDir, 'run.json');
  const snapshotFile = join(stateDir, 'snapshot.json');
  if (!existsSync(runFile) || !existsSync(snapshotFile)) throw new UsageError(`Nothing to resume in ${stateDir}: run \`nightshift local\` first`);
  const snapshot = JSON.parse(readFileSync(snapshotFile, 'utf8')) as { now: number; schedules: { name: string; enabled: boolean }[] };
  return { end: snapshot.now, schedules: Object.fromEntries(snapshot.schedules.map((s) => [s.name, s.enabled])) };
}

/** Empties a state directory `nightshift local` made before; refuses any other non-empty directory. */
function emptyStateDir(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!existsSync(join(dir, MARKER))) {
      throw new UsageError(`--state-dir ${dir} is not empty and was not made by nightshift local: choose an empty or new directory`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), 'made by nightshift local, which empties this directory at its next run\n');
}
