import { loadAgentModule } from '../local/agent-module.ts';
import { NightshiftError, UsageError } from '../src/errors.ts';
import { STACK_OUTPUT } from '../src/contract/outputs.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { LocalPipeline } from '../local/pipeline.ts';
import { ManualClock } from '../src/runtime/clock.ts';
import { checkAgent, saveSnapshot } from './ops.ts';
import type { CommandResult } from './render.ts';
import { readSnapshot } from './snapshot.ts';
import { localTargetOn } from './target.ts';

/** The event `invoke` sends: what EventBridge Scheduler sends, marked as a manual run. */
export function manualInvocation(agentId: string, at: number) {
  return { agentId, scheduledTime: new Date(at).toISOString(), scheduleArn: 'manual:nightshift-invoke', attemptNumber: '0' };
}

/**
 * `--at`: an ISO 8601 time with a zone (`2026-11-25T09:00:00Z`), or a time relative to now (`+30m`, `-2h`, `+1d`).
 * Returns epoch ms; throws naming the accepted forms.
 */
export function parseAt(text: string | undefined, now: number, flag = '--at'): number {
  if (text === undefined) return now;
  const relative = /^([+-])(\d+)(m|h|d)$/.exec(text);
  if (relative) return now + (relative[1] === '-' ? -1 : 1) * Number(relative[2]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[3] as 'm' | 'h' | 'd'];
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))) return Date.parse(text);
  throw new UsageError(`${flag} must be an ISO time with a zone (2026-11-25T09:00:00Z) or relative to now (+30m, -2h, +1d); got '${text}'`);
}

/**
 * Runs one agent by hand on a local run's state: its real handler over the local runtime (the guard, its lock,
 * heartbeats, breaker and memory), at the run's end or `at`; the memory it submits is applied by the steward before
 * the state is saved again. The slot is `at` itself, so the task id is `<agent>@<at>`.
 */
export async function invokeLocal(pipeline: PipelineConfig, stateDir: string, agentId: string, atText: string | undefined): Promise<CommandResult> {
  checkAgent(agentId, pipeline.agents.map((a) => a.id));
  const snapshot = readSnapshot(stateDir);
  const at = parseAt(atText, snapshot.now);
  const agent = pipeline.agents.find((a) => a.id === agentId)!;
  const module = await loadAgentModule(agent);
  process.stderr.write(`nightshift: starting DynamoDB Local and the local SQS on ${stateDir} to run ${agentId}\n`);
  const clock = new ManualClock(Math.max(at, snapshot.now));
  const local = await LocalPipeline.start({ pipeline, clock, stateDir });
  try {
    for (const row of snapshot.schedules) local.schedules.state.set(row.name, row.enabled);
    if (module.publishers) local.publishers.set(agentId, module.publishers);
    const outcome = await local.handler(agentId, module.work)(manualInvocation(agentId, at));
    await saveLocalState(pipeline, stateDir, local, clock);
    return { data: outcome, text: describeOutcome(outcome as { status: string; taskId: string }) };
  } finally {
    await local.stop();
  }
}

/**
 * After an operator's command ran agents on a local run's state: lets the steward apply what they submitted, then
 * writes the snapshot the read commands use, at the clock's time.
 */
export async function saveLocalState(pipeline: PipelineConfig, stateDir: string, local: LocalPipeline, clock: ManualClock): Promise<void> {
  await local.eventSource.drain();
  const depths = await local.queueDepths();
  await saveSnapshot(
    localTargetOn(pipeline, stateDir, local.dynamoEndpoint, {
      end: clock.now(),
      memory: { queued: depths.queue + depths.inFlight, deadLetters: depths.deadLetters },
      schedules: Object.fromEntries(local.schedules.state),
    }),
    stateDir,
  );
}

/** Invokes the deployed function with a Scheduler-shaped event and returns what the run returned. */
export async function invokeDeployed(pipeline: PipelineConfig, stage: string, agentId: string, atText: string | undefined): Promise<CommandResult> {
  checkAgent(agentId, pipeline.agents.map((a) => a.id));
  const at = parseAt(atText, Date.now());
  const functionName = await deployedAgentFunction(pipeline, stage, agentId);
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  const response = await new LambdaClient({}).send(
    new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(manualInvocation(agentId, at))) }),
  );
  const payload = response.Payload ? (JSON.parse(new TextDecoder().decode(response.Payload)) as unknown) : undefined;
  if (response.FunctionError) {
    const error = payload as { errorType?: string; errorMessage?: string } | undefined;
    throw new NightshiftError(`${agentId} failed (${error?.errorType ?? response.FunctionError}): ${error?.errorMessage ?? 'no message'}`);
  }
  return { data: payload, text: describeOutcome(payload as { status: string; taskId: string }) };
}

/** The deployed function of an agent, from its stack's `AgentFunctionNames` output. */
export async function deployedAgentFunction(pipeline: PipelineConfig, stage: string, agentId: string): Promise<string> {
  const functionName = (await deployedAgentFunctions(pipeline, stage))[agentId];
  if (!functionName) throw new UsageError(`Stack ${pipeline.name}-${stage} has no function for '${agentId}' (output AgentFunctionNames): deploy it with this version of Nightshift`);
  return functionName;
}

/** Every agent's deployed function, by agent id, from the stack's `AgentFunctionNames` output. */
export async function deployedAgentFunctions(pipeline: PipelineConfig, stage: string): Promise<Record<string, string>> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const { Stacks = [] } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: `${pipeline.name}-${stage}` }));
  const names = Stacks[0]?.Outputs?.find((o) => o.OutputKey === STACK_OUTPUT.agentFunctionNames)?.OutputValue;
  return names ? (JSON.parse(names) as Record<string, string>) : {};
}

function describeOutcome(outcome: { status: string; taskId: string; reason?: string; detail?: string; outputs?: readonly { published: boolean }[] }): string {
  const published = outcome.outputs?.filter((o) => o.published).length;
  return [
    `${outcome.status} (task ${outcome.taskId})`,
    ...(published === undefined ? [] : [`${published} output(s) published`]),
    ...(outcome.reason ? [outcome.reason] : []),
    ...(outcome.detail ? [outcome.detail] : []),
  ].join('\n');
}
