import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipeline } from '../config/load';
import { SIMULATION_START, simulate } from '../local/runner';
import { SCENARIOS, type ScenarioName, runFaults } from '../local/scenarios';
import { formatSummary } from '../local/summary';

export interface LocalCommandOptions {
  readonly config: string;
  readonly scenario: string;
  readonly inject?: readonly string[];
  readonly hours: string;
  readonly stateDir: string;
  readonly report?: string;
  readonly json?: boolean;
}

/** `nightshift local`: runs the pipeline on this machine and exits 0 when the scenario's guardrails held. */
export async function localCommand(options: LocalCommandOptions): Promise<number> {
  if (!(options.scenario in SCENARIOS)) {
    throw new Error(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}; got '${options.scenario}'`);
  }
  const hours = Number(options.hours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 14) throw new Error(`--hours must be a number from 1 to 336; got '${options.hours}'`);
  const pipeline = await loadPipeline(options.config);
  const scenario = SCENARIOS[options.scenario as ScenarioName];
  const inject = options.inject ?? [];
  // Faults are checked against the pipeline before anything starts (the runner reads them again with the same start).
  runFaults(scenario.name, inject, pipeline, SIMULATION_START.getTime());
  // Each run starts from empty state; the state stays afterwards for `nightshift status --local`.
  rmSync(options.stateDir, { recursive: true, force: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!options.json) log(`nightshift local: ${inject.length ? `${scenario.description} Injected: ${inject.join(', ')}.` : scenario.description}`);
  const started = performance.now();
  const result = await simulate({
    pipeline,
    scenario: scenario.name,
    inject,
    hours,
    stateDir: options.stateDir,
    print: options.json ? undefined : log,
    progress: options.json ? undefined : log,
    // The read commands (`status --local`, `memory get --local`) read this snapshot and start nothing.
    onFinished: async ({ dynamoEndpoint, result }) => {
      const [{ localTargetOn }, { saveSnapshot }] = await Promise.all([import('./target'), import('./ops')]);
      await saveSnapshot(localTargetOn(pipeline, options.stateDir, dynamoEndpoint, result), options.stateDir);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(join(options.stateDir, 'run.json'), JSON.stringify({ ...result, wallClockSeconds: seconds }, null, 2));
  if (options.report) {
    const { writeReport } = await import('../local/report');
    writeReport(options.report, result);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...result, timeline: undefined, events: undefined, wallClockSeconds: seconds })}\n`);
  } else {
    process.stdout.write(`${formatSummary(result)}\n`);
    log(`(${hours} simulated hours in ${seconds.toFixed(1)} s; state kept in ${options.stateDir}${options.report ? `; report: ${options.report}` : ''})`);
  }
  return result.passed ? 0 : 1;
}
