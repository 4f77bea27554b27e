import type { Command } from 'commander';
import { UsageError } from '../src/errors.ts';

interface ReviewOptions {
  local?: boolean;
  stage?: string;
  stack?: string;
  stateDir: string;
  config: string;
  json?: boolean;
  agent?: string;
  all?: boolean;
  reason?: string;
}

/**
 * `nightshift held`, `approve` and `reject` (`cli/review.ts`): every argument is checked against the config before
 * DynamoDB Local, the local SQS or an AWS call is started.
 */
export function reviewCommands(program: Command, targetOptions: (command: Command) => Command): void {
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
