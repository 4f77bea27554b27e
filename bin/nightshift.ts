#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { type CommandResult, memoryResult, renderStatus } from '../src/cli/render';

/** The `nightshift` CLI: run the pipeline locally, and operate a local run or a deployed stack. */
// The SDK warns on every process that Node 20 support ends in 2027; the README's limits say so once.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command()
  .name('nightshift')
  .description('Run and operate a Nightshift agent pipeline')
  .showHelpAfterError();

program
  .command('local')
  .description('run the whole pipeline on this machine on an accelerated clock (DynamoDB Local, local SQS)')
  .option('--scenario <name>', 'normal | 3am | crash', 'normal')
  .option(
    '--inject <fault>',
    'inject a fault, repeatable: loop:<agent>@<HH:MM>, crash:<agent>@<HH:MM>, fail:<agent>@<HH:MM> (UTC, or [Zone/Name] after the time)',
    (fault: string, faults: string[]) => [...faults, fault],
    [] as string[],
  )
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

interface TargetOptions {
  local?: boolean;
  stage?: string;
  stateDir: string;
  config: string;
  json?: boolean;
}

type Target = import('../src/cli/target').Target;
type Snapshot = import('../src/cli/snapshot').Snapshot;

interface Ops {
  /** Checks the arguments before anything starts; throws naming what is wrong. */
  check?: (args: string[], options: Record<string, unknown>, local: boolean) => void;
  /** Reads from a local run's snapshot (no DynamoDB Local started); read commands only. */
  fromSnapshot?: (snapshot: Snapshot, args: string[]) => CommandResult;
  run: (target: Target, args: string[], options: Record<string, unknown>) => Promise<CommandResult>;
  /** Says, for a local target, what it starts before it starts it (mutations). */
  starts?: string;
}

/** Adds the options every ops command shares and runs it against the chosen target. */
function opsCommand(command: Command, ops: Ops) {
  return command
    .option('--local', 'operate on the state of the last `nightshift local` run')
    .option('--stage <stage>', 'operate on the deployed stack <pipeline>-<stage> (AWS credentials from the environment)')
    .option('--state-dir <dir>', 'local state directory', '.nightshift/local')
    .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
    .option('--json', 'print JSON only')
    .action(async (...args: unknown[]) => {
      const options = args.at(-2) as TargetOptions;
      const positional = args.slice(0, -2) as string[];
      if (Boolean(options.local) === Boolean(options.stage)) throw new Error('choose one target: --local or --stage <stage>');
      ops.check?.(positional, options as unknown as Record<string, unknown>, Boolean(options.local));
      const print = (result: CommandResult) => process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
      if (options.local && ops.fromSnapshot) {
        const { readSnapshot } = await import('../src/cli/snapshot');
        print(ops.fromSnapshot(readSnapshot(options.stateDir), positional));
        return;
      }
      const { loadPipeline } = await import('../src/config/load');
      const { localTarget, deployedTarget } = await import('../src/cli/target');
      const pipeline = await loadPipeline(options.config);
      if (options.local) process.stderr.write(`nightshift: starting DynamoDB Local on ${options.stateDir} to ${ops.starts ?? 'read it'}\n`);
      const target = options.local ? await localTarget(pipeline, options.stateDir) : await deployedTarget(pipeline, options.stage!);
      try {
        print(await ops.run(target, positional, options as unknown as Record<string, unknown>));
        if (options.local) await (await import('../src/cli/ops')).saveSnapshot(target, options.stateDir);
      } finally {
        await target.close();
      }
    });
}

const ops = () => import('../src/cli/ops');
opsCommand(program.command('status').description('breaker state, heartbeats, held locks, queue and DLQ depth, rejected updates'), {
  fromSnapshot: (snapshot) => ({ data: snapshot.status, text: renderStatus(snapshot.status) }),
  run: async (t) => (await ops()).status(t),
});
const breaker = program.command('breaker').description('circuit breaker');
opsCommand(breaker.command('reset').description('close the breaker and re-enable exactly the schedules its trip disabled'), {
  starts: 'close the breaker',
  run: async (t) => (await ops()).breakerReset(t),
});
const locks = program.command('locks').description('task locks');
opsCommand(locks.command('release <task>').description('evict the holder of a task lock (keeps the fencing token)').option('--force', 'really evict'), {
  check: ([task], options) => {
    if (options.force !== true) {
      throw new Error(`Releasing ${task} evicts whoever holds it; if that run is still alive it will lose its lock. Add --force to do it.`);
    }
  },
  starts: 'evict the lock holder',
  run: async (t, [task]) => (await ops()).locksRelease(t, task!, true),
});
const dlq = program.command('dlq').description('memory dead-letter queue');
opsCommand(dlq.command('redrive').description('move dead-lettered memory updates back to the queue, in order'), {
  check: (_args, _options, local) => {
    if (local) throw new Error('The local queues exist only while `nightshift local` runs; redrive works against a deployed stack (--stage)');
  },
  run: async (t) => (await ops()).dlqRedrive(t),
});
const memory = program.command('memory').description('shared memory');
opsCommand(memory.command('get <namespace> <key>').description('read one memory entry with its sequence'), {
  fromSnapshot: (snapshot, [ns, key]) => memoryResult(ns!, key!, snapshot.memory[ns!]?.find((e) => e.key === key)),
  run: async (t, [ns, key]) => (await ops()).memoryGet(t, ns!, key!),
});

program.parseAsync().catch((error: unknown) => {
  console.error(`nightshift: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
});
