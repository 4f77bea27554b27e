#!/usr/bin/env -S npx tsx
import { Command } from 'commander';

const program = new Command()
  .name('nightshift')
  .description('Run and operate a Nightshift agent pipeline')
  .showHelpAfterError();

program
  .command('local')
  .description('run the whole pipeline on this machine on an accelerated clock (DynamoDB Local, local SQS)')
  .option('--scenario <name>', 'normal | 3am | crash', 'normal')
  .option('--hours <n>', 'simulated hours to run', '24')
  .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
  .option('--state-dir <dir>', 'where local state is kept for `nightshift status --local`', '.nightshift/local')
  .option('--report <file>', 'write a self-contained HTML report')
  .option('--json', 'print the result as JSON')
  .action(async (options) => {
    // The handlers log and emit metrics for CloudWatch; locally the summary says what matters.
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const { localCommand } = await import('../src/cli/local');
    process.exitCode = await localCommand(options);
  });

program.parseAsync().catch((error: unknown) => {
  console.error(`nightshift: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
});
