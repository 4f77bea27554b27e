#!/usr/bin/env -S npx tsx
import { UsageError } from '../src/errors.ts';
import { Command } from 'commander';
import { reviewCommands } from './review-commands.ts';
import { type TargetOptions, targetOptions } from './target-options.ts';
import { type CommandResult, memoryResult, renderStatus } from '../cli/render.ts';
import { manifest } from '../cli/init.ts';

/** The `nightshift` CLI: run the pipeline locally, and operate a local run or a deployed stack. */
// The SDK warns on every process that Node 20 support ends in 2027; the README's limits say so once.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { version } = manifest();

const program = new Command()
  .name('nightshift')
  .description('Run and operate a Nightshift agent pipeline')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError();

program
  .command('local')
  .description('run the whole pipeline on this machine on an accelerated clock (DynamoDB Local, local SQS)')
  .option('--scenario <name>', 'normal | 3am | crash', 'normal')
  .option(
    '--inject <fault>',
    'inject a fault, repeatable: loop:<agent>@<HH:MM>, crash:<agent>@<HH:MM>, fail:<agent>@<HH:MM>, silence:<agent>@<HH:MM>[-<HH:MM>], stall:steward@<HH:MM>[-<HH:MM>] (UTC, or [Zone/Name] after the time)',
    (fault: string, faults: string[]) => [...faults, fault],
    [] as string[],
  )
  .option('--hours <n>', 'simulated hours to run', '24')
  .option('--start <date>', 'simulated start: a date (midnight UTC) or an ISO time with a zone, e.g. a daylight-saving day (default: 2026-11-25)')
  .option('--resume', 'continue the last run from where it ended, with its state (e.g. after `breaker reset --local`)')
  .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
  .option('--state-dir <dir>', 'where local state is kept for `nightshift status --local`', '.nightshift/local')
  .option('--report <file>', 'write a self-contained HTML report')
  .option('--approve-after <minutes>', 'rehearse a person who approves every held output this many simulated minutes after it was held')
  .option('--reject-after <minutes>', 'rehearse a person who rejects every held output this many simulated minutes after it was held')
  .option('--json', 'print the result as JSON')
  .action(async (options) => {
    // The handlers log and emit metrics for CloudWatch; locally the summary says what matters.
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const { localCommand } = await import('../cli/local.ts');
    process.exitCode = await localCommand(options);
  });

program
  .command('init [dir]')
  .description('a new project: package.json, tsconfig, cdk.json, the CDK app, nightshift.config.ts, one agent and its test')
  .option('--package <spec>', 'how the project depends on Nightshift: a version range, a tarball or a folder (default: ^<this version>)')
  .option('--agent <id>', "the first agent's id", 'scout')
  .action(async (dir: string | undefined, options: { package?: string; agent: string }) => {
    const { initProject } = await import('../cli/init.ts');
    const { written, root } = initProject({ dir: dir ?? '.', agent: options.agent, ...(options.package ? { packageSpec: options.package } : {}) });
    const where = dir ? `cd ${dir} && ` : '';
    process.stdout.write(
      `${written.map((f) => `wrote ${f}`).join('\n')}\nnext: ${where}npm install, then npm test, npx cdk synth and npx nightshift local (in ${root})\n`,
    );
  });

program
  .command('new')
  .description('scaffold part of a pipeline')
  .command('agent <id>')
  .description("an agent: its module (exports `work`), its entry in the config (created if missing), and a passing test")
  .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
  .option('--dir <dir>', 'folder of agent modules', 'agents')
  .option('--test-dir <dir>', 'folder of tests', 'test')
  .action(async (id: string, options: { config: string; dir: string; testDir: string }) => {
    const { newAgent } = await import('../cli/scaffold.ts');
    const { loadPipeline } = await import('../src/config/load.ts');
    const scaffold = newAgent({ id, config: options.config, dir: options.dir, testDir: options.testDir });
    // The new entry must make a valid pipeline (e.g. its namespace and schedule): checked now, undone if not.
    try {
      await loadPipeline(options.config);
    } catch (error) {
      scaffold.undo();
      throw new UsageError(`the scaffolded config did not validate, so nothing was written: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.stdout.write(`${scaffold.written.map((f) => `wrote ${f}`).join('\n')}\nnext: edit the agent's work and schedule, then run its test (npx vitest run ${scaffold.written[2]})\n`);
  });

type Target = import('../cli/target.ts').Target;
type Snapshot = import('../cli/snapshot.ts').Snapshot;

interface Ops {
  /** Checks the arguments before anything starts; throws naming what is wrong. */
  check?: (args: string[], options: Record<string, unknown>, local: boolean) => void;
  /** Reads from a local run's snapshot (no DynamoDB Local started); read commands only. */
  fromSnapshot?: (snapshot: Snapshot, args: string[], options: Record<string, unknown>) => CommandResult | Promise<CommandResult>;
  run: (target: Target, args: string[], options: Record<string, unknown>) => Promise<CommandResult>;
  /** Says, for a local target, what it starts before it starts it (mutations). */
  starts?: string;
}

/** Adds the options every ops command shares and runs it against the chosen target. */
function opsCommand(command: Command, ops: Ops) {
  return targetOptions(command)
    .action(async (...args: unknown[]) => {
      const options = args.at(-2) as TargetOptions;
      const positional = args.slice(0, -2) as string[];
      if (Boolean(options.local) === Boolean(options.stage)) throw new UsageError('choose one target: --local or --stage <stage>');
      ops.check?.(positional, options as unknown as Record<string, unknown>, Boolean(options.local));
      const print = (result: CommandResult) => process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
      if (options.local && ops.fromSnapshot) {
        const { readSnapshot } = await import('../cli/snapshot.ts');
        print(await ops.fromSnapshot(readSnapshot(options.stateDir), positional, options as unknown as Record<string, unknown>));
        return;
      }
      const { loadPipeline } = await import('../src/config/load.ts');
      const { localTarget, deployedTarget } = await import('../cli/target.ts');
      const pipeline = await loadPipeline(options.config);
      if (options.local) process.stderr.write(`nightshift: starting DynamoDB Local on ${options.stateDir} to ${ops.starts ?? 'read it'}\n`);
      const target = options.local ? await localTarget(pipeline, options.stateDir) : await deployedTarget(pipeline, options.stage!, options.stack);
      try {
        print(await ops.run(target, positional, options as unknown as Record<string, unknown>));
        if (options.local) await (await import('../cli/ops.ts')).saveSnapshot(target, options.stateDir);
      } finally {
        await target.close();
      }
    });
}

const ops = () => import('../cli/ops.ts');
const views = () => import('../cli/views.ts');

/** `--limit`: a whole number from 1 to 1000. */
function limitOf(options: Record<string, unknown>): number {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000; got '${String(options.limit)}'`);
  return limit;
}
opsCommand(program.command('status').description('breaker state, heartbeats, held locks, queue and DLQ depth, rejected updates, open incidents of the watch'), {
  fromSnapshot: (snapshot) => ({ data: snapshot.status, text: renderStatus(snapshot.status) }),
  run: async (t) => (await ops()).status(t),
});
const breaker = program.command('breaker').description('circuit breaker');
opsCommand(breaker.command('reset').description('close the breaker and re-enable exactly the schedules its trip disabled'), {
  starts: 'close the breaker',
  run: async (t, _args, options) =>
    (await ops()).breakerReset(t, {
      ...(options.stage ? { stage: String(options.stage) } : {}),
      ...(options.stack ? { stack: String(options.stack) } : {}),
      config: String(options.config),
      stateDir: String(options.stateDir),
    }),
});
const locks = program.command('locks').description('task locks');
opsCommand(locks.command('release <task>').description('evict the holder of a task lock (keeps the fencing token)').option('--force', 'really evict'), {
  check: ([task], options) => {
    if (options.force !== true) {
      throw new UsageError(`Releasing ${task} evicts whoever holds it; if that run is still alive it will lose its lock. Add --force to do it.`);
    }
  },
  starts: 'evict the lock holder',
  run: async (t, [task]) => (await ops()).locksRelease(t, task!, true),
});
const dlq = program.command('dlq').description('memory dead-letter queue');
opsCommand(dlq.command('redrive').description('move dead-lettered memory updates back to the queue, in order'), {
  check: (_args, _options, local) => {
    if (local) throw new UsageError('The local queues exist only while `nightshift local` runs; redrive works against a deployed stack (--stage)');
  },
  run: async (t) => (await ops()).dlqRedrive(t),
});
opsCommand(program.command('schedules').description("each schedule's next fire times in its time zone, its cron in words, enabled or disabled"), {
  fromSnapshot: async (snapshot) => (await views()).schedulesView(snapshot.schedules, snapshot.now),
  run: async (t) => (await ops()).schedules(t),
});
opsCommand(
  program
    .command('runs')
    .description('past runs, newest first: outcome, degraded or failure reason, outputs, model tokens, task id')
    .option('--agent <id>', 'only this agent')
    .option('--limit <n>', 'how many', '20'),
  {
    check: (_args, options) => void limitOf(options),
    fromSnapshot: async (snapshot, _args, options) => {
      const agent = options.agent as string | undefined;
      if (agent !== undefined) (await ops()).checkAgent(agent, snapshot.status.heartbeats.map((h) => h.agentId));
      const runs = snapshot.runs.filter((r) => agent === undefined || r.agentId === agent).slice(0, limitOf(options));
      return (await views()).runsView(runs, snapshot.now);
    },
    run: async (t, _args, options) => (await ops()).runs(t, options.agent as string | undefined, limitOf(options)),
  },
);
program
  .command('invoke <agent>')
  .description("run one agent now with a Scheduler-shaped event: locally on the last run's state, or the deployed function")
  .option('--at <time>', 'the slot to run for: an ISO time with a zone, or relative to now (+30m, -2h, +1d)')
  .option('--local', "run it on the last `nightshift local` run's state")
  .option('--stage <stage>', 'invoke the deployed function of stack <pipeline>-<stage> (AWS credentials from the environment)')
  .option('--state-dir <dir>', 'local state directory', '.nightshift/local')
  .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
  .option('--json', 'print JSON only')
  .action(async (agent: string, options: TargetOptions & { at?: string }) => {
    if (Boolean(options.local) === Boolean(options.stage)) throw new UsageError('choose one target: --local or --stage <stage>');
    // The handler logs and emits metrics for CloudWatch; here the outcome says what matters (set before it loads).
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const { parseAt, invokeLocal, invokeDeployed } = await import('../cli/invoke.ts');
    parseAt(options.at, Date.now()); // a bad --at is refused before anything starts
    const { loadPipeline } = await import('../src/config/load.ts');
    const pipeline = await loadPipeline(options.config);
    const result = options.local
      ? await invokeLocal(pipeline, options.stateDir, agent, options.at)
      : await invokeDeployed(pipeline, options.stage!, agent, options.at);
    process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
  });
targetOptions(
  program
    .command('replay [run]')
    .description('run failed, halted or refused runs again with their original invocation, as tasks of their own: one by its run or task id, or --failed/--refused --since')
    .option('--failed', 'replay the runs that failed')
    .option('--refused', 'replay the runs the breaker refused or halted')
    .option('--since <time>', 'with --failed/--refused: runs that started at or after it (ISO with a zone, or relative: -2h, -1d)')
    .option('--agent <id>', 'only this agent'),
).action(async (run: string | undefined, options: TargetOptions & { failed?: boolean; refused?: boolean; since?: string; agent?: string }) => {
    if (Boolean(options.local) === Boolean(options.stage)) throw new UsageError('choose one target: --local or --stage <stage>');
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const { loadPipeline } = await import('../src/config/load.ts');
    const pipeline = await loadPipeline(options.config);
    const { parseReplay, replayLocal, replayDeployed } = await import('../cli/replay.ts');
    // Checked before anything starts; a relative --since counts from the local run's end, or from now when deployed.
    const { readSnapshot } = await import('../cli/snapshot.ts');
    const request = parseReplay(run, options, pipeline.agents.map((a) => a.id), () => (options.local ? readSnapshot(options.stateDir).now : Date.now()));
    let result;
    if (options.local) result = await replayLocal(pipeline, options.stateDir, request);
    else {
      const { deployedTarget } = await import('../cli/target.ts');
      const target = await deployedTarget(pipeline, options.stage!, options.stack);
      try {
        result = await replayDeployed(pipeline, target.history, options.stack ?? `${pipeline.name}-${options.stage}`, request);
      } finally {
        await target.close();
      }
    }
    process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
  });
program
  .command('send-event')
  .description('put an outside event on the pipeline\'s bus and run the agents whose triggers take it: locally on the last run\'s state, or deployed (PutEvents)')
  .option('--source <source>', 'the event source your triggers name')
  .option('--detail-type <type>', "the event's detail type")
  .option('--detail <json>', 'the event detail, a JSON object', '{}')
  .option('--bus <bus>', "'pipeline' (its own bus) or 'default' (the account's)", 'pipeline')
  .option('--local', "deliver it on the last `nightshift local` run's state")
  .option('--stage <stage>', 'put it on the deployed bus of stack <pipeline>-<stage> (AWS credentials from the environment)')
  .option('--state-dir <dir>', 'local state directory', '.nightshift/local')
  .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
  .option('--json', 'print JSON only')
  .action(async (options: TargetOptions & { source?: string; detailType?: string; detail?: string; bus?: string }) => {
    if (Boolean(options.local) === Boolean(options.stage)) throw new UsageError('choose one target: --local or --stage <stage>');
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const { loadPipeline } = await import('../src/config/load.ts');
    const pipeline = await loadPipeline(options.config);
    const { parseOutsideEvent, sendEventLocal, sendEventDeployed } = await import('../cli/send-event.ts');
    const event = parseOutsideEvent(pipeline, options); // refused before anything starts
    const result = options.local ? await sendEventLocal(pipeline, options.stateDir, event) : await sendEventDeployed(pipeline, options.stage!, event);
    process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
  });
program
  .command('cost')
  .description("the pipeline's monthly AWS bill: schedules, measured calls per run on a simulated day, a dated price table")
  .option('--config <file>', 'pipeline config', 'nightshift.config.ts')
  .option('--json', 'print JSON only')
  .action(async (options: { config: string; json?: boolean }) => {
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const { loadPipeline } = await import('../src/config/load.ts');
    const pipeline = await loadPipeline(options.config);
    const [{ mkdtempSync, rmSync }, { tmpdir }, { join }] = await Promise.all([import('node:fs'), import('node:os'), import('node:path')]);
    const stateDir = mkdtempSync(join(tmpdir(), 'nightshift-cost-'));
    process.stderr.write(`nightshift: measuring a simulated day of ${pipeline.name} locally (DynamoDB Local, local SQS)…\n`);
    try {
      const [{ simulate }, { costView }] = await Promise.all([import('../local/runner.ts'), import('../cli/cost.ts')]);
      const day = await simulate({ pipeline, scenario: 'normal', hours: 24, stateDir });
      const result = costView(pipeline, day);
      process.stdout.write(`${options.json ? JSON.stringify(result.data) : result.text}\n`);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
const memory = program.command('memory').description('shared memory');
opsCommand(memory.command('list <namespace>').description("a namespace's entries: key, writer, when"), {
  fromSnapshot: async (snapshot, [ns]) => (await views()).memoryListView(ns!, snapshot.memory[ns!], snapshot.now),
  run: async (t, [ns]) => (await ops()).memoryList(t, ns!),
});
opsCommand(memory.command('get <namespace> <key>').description('read one memory entry with its sequence'), {
  fromSnapshot: (snapshot, [ns, key]) => memoryResult(ns!, key!, snapshot.memory[ns!]?.find((e) => e.key === key)),
  run: async (t, [ns, key]) => (await ops()).memoryGet(t, ns!, key!),
});

reviewCommands(program);

program.parseAsync().catch((error: unknown) => {
  console.error(`nightshift: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
});
