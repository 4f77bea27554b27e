import type { Command } from 'commander';
import { UsageError } from '../src/errors.ts';
import { type TargetOptions, targetOptions } from './target-options.ts';

interface ReviewOptions extends TargetOptions {
  agent?: string;
  all?: boolean;
  reason?: string;
}

/**
 * `nightshift held`, `approve` and `reject` (`cli/review.ts`): every argument is checked against the config before
 * DynamoDB Local, the local SQS or an AWS call is started.
 */
export function reviewCommands(program: Command): void {
  targetOptions(
    program
      .command('held')
      .description('outputs held for review, oldest first: age, why, a preview, when they expire')
      .option('--agent <id>', 'only this agent')
      .option('--all', 'decided ones too (approved, published, rejected, expired), as long as they are kept'),
  ).action(async (options: ReviewOptions) => {
    const pipeline = await prepare(options);
    const review = await import('../cli/review.ts');
    review.checkListing(pipeline, options.agent);
    const { localTarget, deployedTarget } = await import('../cli/target.ts');
    if (options.local) process.stderr.write(`nightshift: starting DynamoDB Local on ${options.stateDir} to read it\n`);
    const target = options.local ? await localTarget(pipeline, options.stateDir) : await deployedTarget(pipeline, options.stage!, options.stack);
    try {
      print(options, await review.listHeld(target, { ...(options.agent ? { agent: options.agent } : {}), ...(options.all ? { all: true } : {}) }));
    } finally {
      await target.close();
    }
  });
  program
    .command('approvals')
    .description("serve the approval page the local digest's links open, on 127.0.0.1, over the last local run's state (deployed, the approval function serves it)")
    .option('--local', "the last `nightshift local` run's state")
    .option('--port <n>', 'the port the local digest links to (NIGHTSHIFT_APPROVALS_PORT, else 8787)')
    .option('--state-dir <dir>', 'local state directory', '.nightshift/local')
    .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
    .action(async (options: ReviewOptions & { port?: string }) => {
      if (!options.local) throw new UsageError('approvals serves the local page (--local); deployed, open the approval function\'s URL (stack output ApprovalPageUrl) from the digest');
      const port = Number(options.port ?? process.env.NIGHTSHIFT_APPROVALS_PORT ?? 8787);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be a whole number from 0 to 65535; got '${options.port}'`);
      const pipeline = await prepare(options);
      (await import('../cli/review.ts')).checkListing(pipeline, undefined);
      process.stderr.write(`nightshift: starting DynamoDB Local and the local SQS on ${options.stateDir} to serve the approval page\n`);
      const { serveApprovals } = await import('../cli/approvals.ts');
      const served = await serveApprovals(pipeline, options.stateDir, port, (line) => process.stdout.write(`${line}\n`));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await served.close();
    });
  for (const action of ['approve', 'reject'] as const) {
    targetOptions(
      program
        .command(`${action} [ids...]`)
        .description(
          action === 'approve'
            ? 'approve held outputs: each is published once, by its agent, under the breaker as it is now (an open breaker refuses)'
            : 'reject held outputs: none of them is published',
        )
        .option('--all', 'every held output of --agent')
        .option('--agent <id>', 'the agent whose held outputs --all decides (or where to look for the ids)')
        .option('--reason <text>', 'why, recorded with the decision'),
    ).action(async (ids: string[], options: ReviewOptions) => {
      const pipeline = await prepare(options);
      const review = await import('../cli/review.ts');
      const command = { action, ids, ...(options.all ? { all: true } : {}), ...(options.agent ? { agent: options.agent } : {}), ...(options.reason ? { reason: options.reason } : {}) };
      review.checkDecision(pipeline, command);
      let result: Awaited<ReturnType<typeof review.decideLocal>>;
      if (options.local) result = await review.decideLocal(pipeline, options.stateDir, command);
      else {
        const { deployedTarget } = await import('../cli/target.ts');
        const target = await deployedTarget(pipeline, options.stage!, options.stack);
        try {
          result = await review.decideDeployed(target, options.stage!, command);
        } finally {
          await target.close();
        }
      }
      print(options, result);
      if (!result.ok) process.exitCode = 1;
    });
  }
}

async function prepare(options: ReviewOptions) {
  if (Boolean(options.local) === Boolean(options.stage)) throw new UsageError('choose one target: --local or --stage <stage>');
  // A publishing run's handler logs and emits metrics for CloudWatch; here the outcome says what matters.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const { loadPipeline } = await import('../src/config/load.ts');
  return loadPipeline(options.config);
}

function print(options: ReviewOptions, result: { data: unknown; text: string }): void {
  process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
}
