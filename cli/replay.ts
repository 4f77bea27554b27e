import { Cron } from 'croner';
import { NightshiftError, UsageError } from '../src/errors.ts';
import { STACK_OUTPUT } from '../src/contract/outputs.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { loadAgentModule } from '../local/agent-module.ts';
import { LocalPipeline } from '../local/pipeline.ts';
import { ManualClock } from '../src/runtime/clock.ts';
import type { RunEntry, RunHistory } from '../src/runtime/run-history.ts';
import type { AgentContext } from '../src/runtime/run-lifecycle.ts';
import { parseAt, saveLocalState } from './invoke.ts';
import { checkAgent } from './ops.ts';
import type { CommandResult } from './render.ts';
import { readSnapshot } from './snapshot.ts';

/**
 * `nightshift replay`: runs failed, halted or refused runs again, each with the invocation it had (Scheduler's input
 * or the event with its trigger input), as a task of its own (`<agent>@replay:<task>`): it cannot collide with the
 * original, goes through the breaker and the budget like any run, its history links it to the run it replays, and
 * a second replay of the same run finds that task done and runs nothing.
 */
export interface ReplayRequest {
  /** One run, by its run id or its task id. */
  readonly id?: string;
  readonly failed: boolean;
  readonly refused: boolean;
  /** Epoch ms: runs that started at or after it. */
  readonly since?: number;
  readonly agent?: string;
}

/** Checks the arguments before anything starts: a run id, or `--failed`/`--refused` with `--since`. */
export function parseReplay(id: string | undefined, options: { failed?: boolean; refused?: boolean; since?: string; agent?: string }, agents: readonly string[], now: () => number): ReplayRequest {
  const failed = options.failed === true;
  const refused = options.refused === true;
  if (id !== undefined && (failed || refused || options.since !== undefined)) throw new UsageError('replay takes a run id, or --failed/--refused with --since: not both');
  if (id === undefined && !failed && !refused) throw new UsageError('replay what? Give a run id (from `nightshift runs`), or --failed and/or --refused with --since <time>');
  if (id === undefined && options.since === undefined) throw new UsageError('--failed and --refused need --since <time>: an ISO time with a zone, or relative to now (-2h, -1d)');
  if (options.agent !== undefined) checkAgent(options.agent, agents);
  // A task id names its agent (`<agent>@…`); a run id is a bare id.
  if (id?.includes('@')) checkAgent(id.slice(0, id.indexOf('@')), agents);
  // An ISO time is checked first; only a relative one needs "now" (a local run's end, read from its state).
  const since = options.since === undefined ? undefined : parseAt(options.since, /^[+-]/.test(options.since) ? now() : 0, '--since');
  return { ...(id === undefined ? {} : { id }), failed, refused, ...(since === undefined ? {} : { since }), ...(options.agent === undefined ? {} : { agent: options.agent }) };
}

/** The runs a request chooses, oldest first: each with the invocation to send again, or why it cannot be replayed. */
export async function chooseRuns(history: RunHistory, pipeline: PipelineConfig, request: ReplayRequest): Promise<RunEntry[]> {
  const agents = request.agent ? [request.agent] : pipeline.agents.map((a) => a.id);
  if (request.id !== undefined) {
    const owner = agents.find((a) => request.id!.startsWith(`${a}@`));
    const runs = await history.list(owner ? [owner] : agents, 1_000);
    const run = runs.find((r) => r.runId === request.id || r.taskId === request.id);
    if (!run) throw new UsageError(`No run '${request.id}' among each agent's newest 1,000: give a run id or task id from \`nightshift runs\``);
    if (run.status !== 'failed' && run.status !== 'halted') {
      throw new UsageError(`${run.taskId} ${run.status === 'completed' ? 'completed' : `was skipped (${run.detail ?? 'no reason recorded'})`}: replay runs a failed, halted or refused run`);
    }
    return [run];
  }
  const wanted = new Set([...(request.failed ? ['failed'] : []), ...(request.refused ? ['halted'] : [])]);
  return (await history.since(agents, new Date(request.since!).toISOString())).filter((r) => wanted.has(r.status) && !r.replayOf);
}

/**
 * Whether a bulk replay takes a run: one an output or an event started, or a slot of its agent's schedules. An
 * invocation at no slot of its schedules (by hand, or again and again by something broken: a loop's re-invocations)
 * is not work a schedule missed; replaying those in bulk would run the loop again. They are replayed by their id.
 */
export function isSlotOrTriggered(run: RunEntry, pipeline: PipelineConfig): boolean {
  const invocation = run.invocation as { 'detail-type'?: unknown; scheduledTime?: unknown } | undefined;
  if (!invocation || typeof invocation !== 'object' || 'detail-type' in invocation) return true;
  const at = typeof invocation.scheduledTime === 'string' ? Date.parse(invocation.scheduledTime) : Number.NaN;
  const agent = pipeline.agents.find((a) => a.id === run.agentId);
  if (!agent || Number.isNaN(at)) return false;
  return agent.schedules.some((s) => new Cron(s.cron, { timezone: s.timeZone, paused: true }).nextRun(new Date(at - 1))?.getTime() === at);
}

/** What a replay sends: the run's own invocation, marked as a replay of its task. */
export function replayInvocation(run: RunEntry): Record<string, unknown> | undefined {
  const invocation = run.invocation;
  if (invocation === null || typeof invocation !== 'object' || Array.isArray(invocation)) return undefined;
  return { ...(invocation as Record<string, unknown>), replayOf: run.taskId };
}

interface Replayed {
  readonly agentId: string;
  readonly replays: string;
  readonly status: string;
  readonly taskId?: string;
  readonly detail?: string;
}

/** Replays on a local run's state: each run through its agent's real handler, then what its outputs trigger. */
export async function replayLocal(pipeline: PipelineConfig, stateDir: string, request: ReplayRequest): Promise<CommandResult> {
  const snapshot = readSnapshot(stateDir);
  process.stderr.write(`nightshift: starting DynamoDB Local and the local SQS on ${stateDir} to replay\n`);
  const clock = new ManualClock(snapshot.now);
  const local = await LocalPipeline.start({ pipeline, clock, stateDir });
  try {
    for (const row of snapshot.schedules) local.schedules.state.set(row.name, row.enabled);
    const history = local.runtime(pipeline.agents[0]!.id).history;
    if (!history) throw new NightshiftError('the local runtime keeps no run history');
    const runs = await chooseRuns(history, pipeline, request);
    const works = new Map<string, (ctx: AgentContext) => Promise<unknown>>();
    const workOf = async (agentId: string) => {
      if (!works.has(agentId)) {
        const agent = pipeline.agents.find((a) => a.id === agentId)!;
        const module = await loadAgentModule(agent);
        if (module.publishers) local.publishers.set(agentId, module.publishers);
        works.set(agentId, module.work);
      }
      return works.get(agentId)!;
    };
    const send = async (agentId: string, event: unknown) => {
      // Each run a moment after the last, as they would follow each other: their records never share a start time.
      await clock.advance(1_000);
      try {
        return (await local.handler(agentId, await workOf(agentId))(event)) as { status: string; taskId: string; reason?: string; detail?: string };
      } catch (error) {
        return { status: 'failed', taskId: '', detail: error instanceof Error ? error.message : String(error) };
      }
    };
    const results = await replayEach(runs, request.id === undefined ? (run) => isSlotOrTriggered(run, pipeline) : () => true, send);
    // What the replays published runs the agents that trigger on it, as EventBridge would.
    for (let batch = local.bus.take(); batch.length > 0; batch = local.bus.take()) {
      for (const { agentId, event } of batch) await send(agentId, event);
    }
    await saveLocalState(pipeline, stateDir, local, clock);
    return report(results);
  } finally {
    await local.stop();
  }
}

/** Replays against a deployed stack: each run's invocation sent to its agent's function (Lambda Invoke, synchronous). */
export async function replayDeployed(pipeline: PipelineConfig, history: RunHistory, stackName: string, request: ReplayRequest): Promise<CommandResult> {
  const runs = await chooseRuns(history, pipeline, request);
  const [{ CloudFormationClient, DescribeStacksCommand }, { LambdaClient, InvokeCommand }] = await Promise.all([import('@aws-sdk/client-cloudformation'), import('@aws-sdk/client-lambda')]);
  const { Stacks = [] } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  const names = Stacks[0]?.Outputs?.find((o) => o.OutputKey === STACK_OUTPUT.agentFunctionNames)?.OutputValue;
  const functions = names ? (JSON.parse(names) as Record<string, string>) : {};
  const lambda = new LambdaClient({});
  const results = await replayEach(runs, request.id === undefined ? (run) => isSlotOrTriggered(run, pipeline) : () => true, async (agentId, invocation) => {
    const functionName = functions[agentId];
    if (!functionName) throw new NightshiftError(`Stack ${stackName} has no function for '${agentId}' (output AgentFunctionNames)`);
    const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(invocation)) }));
    const payload = response.Payload ? (JSON.parse(new TextDecoder().decode(response.Payload)) as Record<string, unknown>) : {};
    if (response.FunctionError) return { status: 'failed', taskId: '', detail: `${String(payload.errorType ?? response.FunctionError)}: ${String(payload.errorMessage ?? '')}` };
    return payload as { status: string; taskId: string; reason?: string; detail?: string };
  });
  return report(results);
}

async function replayEach(
  runs: readonly RunEntry[],
  takes: (run: RunEntry) => boolean,
  send: (agentId: string, invocation: Record<string, unknown>) => Promise<{ status: string; taskId: string; reason?: string; detail?: string }>,
): Promise<Replayed[]> {
  const results: Replayed[] = [];
  for (const run of runs) {
    if (!takes(run)) {
      results.push({ agentId: run.agentId, replays: run.taskId, status: 'left out', detail: 'not a slot of its schedules (by hand, or a loop invoking it again and again): replay it by its id if it is work to do' });
      continue;
    }
    const invocation = replayInvocation(run);
    if (!invocation) {
      results.push({ agentId: run.agentId, replays: run.taskId, status: 'not replayable', detail: 'its record keeps no invocation (larger than 64 KB, or recorded before replays existed)' });
      continue;
    }
    const outcome = await send(run.agentId, invocation);
    const detail = outcome.reason ?? outcome.detail;
    results.push({ agentId: run.agentId, replays: run.taskId, status: outcome.status, ...(outcome.taskId ? { taskId: outcome.taskId } : {}), ...(detail ? { detail } : {}) });
  }
  return results;
}

function report(results: readonly Replayed[]): CommandResult {
  if (results.length === 0) return { data: { replayed: [] }, text: 'Nothing to replay: no run matched.' };
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const lines = results.map((r) => `${r.agentId}: ${r.replays} → ${r.status}${r.taskId ? ` (task ${r.taskId})` : ''}${r.detail ? `: ${r.detail.slice(0, 200)}` : ''}`);
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  const done = results.some((r) => r.status === 'skipped' && r.detail === 'already-completed');
  // A replay that failed fails the command, as the run would have.
  if (counts.get('failed')) process.exitCode = 1;
  return { data: { replayed: results }, text: [...lines, `Replayed ${results.length} run(s): ${summary}.${done ? ' A replay skipped as already-completed had run already: each run is replayed once.' : ''}`].join('\n') };
}
