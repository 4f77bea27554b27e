import type { Command } from 'commander';

/** The options of every command that acts on a local run's state or a deployed stack. */
export interface TargetOptions {
  local?: boolean;
  stage?: string;
  stack?: string;
  stateDir: string;
  config: string;
  json?: boolean;
}

/** Adds those options to `command`. */
export function targetOptions(command: Command) {
  return command
    .option('--local', 'operate on the state of the last `nightshift local` run')
    .option('--stage <stage>', 'operate on the deployed stack <pipeline>-<stage> (AWS credentials from the environment)')
    .option('--stack <name>', 'with --stage: the stack holding the pipeline, when it is a NightshiftPipeline in a stack of your own')
    .option('--state-dir <dir>', 'local state directory', '.nightshift/local')
    .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
    .option('--json', 'print JSON only');
}
