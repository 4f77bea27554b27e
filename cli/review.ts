import { hostname, userInfo } from 'node:os';
import { loadAgentModule } from '../local/agent-module.ts';
import { LocalPipeline } from '../local/pipeline.ts';
import { localReview } from '../local/review.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { NightshiftError, UsageError } from '../src/errors.ts';
import { ManualClock } from '../src/runtime/clock.ts';
import { type DecisionResult, type ReviewDeps, decideHeld } from '../src/runtime/review/decisions.ts';
import { type HeldOutput, HeldOutputs } from '../src/runtime/review/held-outputs.ts';
import { deployedAgentFunctions, saveLocalState } from './invoke.ts';
import { checkAgent } from './ops.ts';
import type { CommandResult } from './render.ts';
import { readSnapshot } from './snapshot.ts';
import type { Target } from './target.ts';

/**
 * `nightshift held`, `approve` and `reject`: what waits for a person, and their decisions, on a local run's state or
 * a deployed stack. A decision is recorded with who made it (the AWS identity deployed, the user locally); an
 * approval then starts the agent's publishing run, which publishes the output once, under the breaker as it is then.
 */

const WAITING = new Set(['held', 'approved', 'publishing', 'failed']);

/** The agents whose outputs can be held (a `review` policy in the config). */
function reviewedAgents(pipeline: PipelineConfig): string[] {
  return pipeline.agents.filter((a) => a.review).map((a) => a.id);
}

/** `--agent`: an agent of the pipeline that has a review policy. */
function checkReviewed(pipeline: PipelineConfig, agentId: string): void {
  checkAgent(agentId, pipeline.agents.map((a) => a.id));
  if (!reviewedAgents(pipeline).includes(agentId)) throw new UsageError(`${agentId} has no review policy (agents[${agentId}].review): none of its outputs is ever held`);
}

/** Lists held outputs, oldest first: those waiting (or, with `all`, every one still kept, decided too). */
export async function listHeld(target: Pick<Target, 'pipeline' | 'client' | 'names' | 'clock'>, options: { agent?: string; all?: boolean }): Promise<CommandResult> {
  if (options.agent !== undefined) checkReviewed(target.pipeline, options.agent);
  const store = new HeldOutputs({ client: target.client, tableName: target.names.counters, clock: target.clock });
  const agents = options.agent === undefined ? reviewedAgents(target.pipeline) : [options.agent];
  // What waits for a person: held, and approved, publishing or failed (not yet published, or stuck).
  const outputs = (await Promise.all(agents.map((a) => store.list(a)))).flat().filter((o) => options.all || WAITING.has(o.status));
  return heldView(outputs.sort((a, b) => a.heldAt - b.heldAt), target.clock.now());
}

export function heldView(outputs: readonly HeldOutput[], now: number): CommandResult {
  const rows = outputs.map((o) => ({
    id: o.outputId,
    agentId: o.agentId,
    status: o.status,
    heldAt: iso(o.heldAt),
    age: ago(now - o.heldAt),
    expiresAt: iso(o.expiresAt),
    expires: o.expiresAt > now ? `in ${ago(o.expiresAt - now)}` : `${ago(now - o.expiresAt)} ago`,
    onExpiry: o.onExpiry,
    reasons: o.reasons,
    ...(o.via === undefined ? {} : { via: o.via }),
    preview: preview(o.payload),
    ...(o.decision ? { decision: { ...o.decision, at: iso(o.decision.at) } } : {}),
    ...(o.error ? { error: o.error } : {}),
  }));
  if (rows.length === 0) return { data: rows, text: 'Nothing is held.' };
  const text = rows
    .map((r) =>
      [
        `${r.id}  ${r.agentId}  ${r.status}  held ${r.age} ago, expires ${r.expires} (then ${r.onExpiry})`,
        `  why: ${r.reasons.join('; ')}`,
        `  ${r.preview}`,
        ...(r.decision ? [`  ${r.decision.action} by ${r.decision.by} at ${r.decision.at}${r.decision.reason ? `: ${r.decision.reason}` : ''}`] : []),
      ].join('\n'),
    )
    .join('\n');
  return { data: rows, text: `${text}\n\nApprove with \`nightshift approve <id>\`, reject with \`nightshift reject <id> --reason <why>\`.` };
}

/** Checks `held`'s arguments before anything starts. */
export function checkListing(pipeline: PipelineConfig, agent: string | undefined): void {
  if (reviewedAgents(pipeline).length === 0) throw new UsageError('No agent of this pipeline has a review policy (agents[].review): nothing is ever held');
  if (agent !== undefined) checkReviewed(pipeline, agent);
}

export interface DecisionCommand {
  readonly action: 'approve' | 'reject';
  readonly ids: readonly string[];
  /** `--all --agent <id>`: every output of that agent that waits. */
  readonly all?: boolean;
  readonly agent?: string;
  readonly reason?: string;
}

/** Checks a decision's arguments before anything starts; throws naming what is wrong. */
export function checkDecision(pipeline: PipelineConfig, command: DecisionCommand): void {
  if (command.all) {
    if (command.ids.length > 0) throw new UsageError(`${command.action} --all takes no ids: it decides every held output of --agent`);
    if (command.agent === undefined) throw new UsageError(`${command.action} --all needs --agent <id>: decide one agent's held outputs at a time`);
  } else if (command.ids.length === 0) {
    throw new UsageError(`${command.action} needs the id of a held output (\`nightshift held\` lists them), or --all --agent <id>`);
  }
  checkListing(pipeline, command.agent);
  if (command.reason !== undefined && command.reason.length > 1_000) throw new UsageError(`--reason takes at most 1000 characters; got ${command.reason.length}`);
}

/** Carries out a decision on each output it names; `ok` is false when any was refused or did not publish. */
export async function decide(pipeline: PipelineConfig, deps: ReviewDeps, by: string, command: DecisionCommand): Promise<CommandResult & { ok: boolean }> {
  const agents = command.agent === undefined ? reviewedAgents(pipeline) : [command.agent];
  const targets: { agentId: string; outputId: string }[] = [];
  const missing: string[] = [];
  const ambiguous: { id: string; agents: string[] }[] = [];
  if (command.all) {
    for (const output of await deps.held.list(command.agent!)) if (output.status === 'held') targets.push({ agentId: output.agentId, outputId: output.outputId });
  } else {
    for (const id of command.ids) {
      const found = (await Promise.all(agents.map((a) => deps.held.get(a, id)))).filter((o) => o !== undefined);
      // Agents choose their output ids: one id held by two agents is decided only when the operator names the agent.
      if (found.length > 1) ambiguous.push({ id, agents: found.map((o) => o.agentId) });
      else if (found[0]) targets.push({ agentId: found[0].agentId, outputId: id });
      else missing.push(id);
    }
  }
  const results: (DecisionResult & { id: string })[] = [];
  // One at a time: each approval's publishing run sees the breaker as the previous one left it.
  for (const { agentId, outputId } of targets) {
    results.push({ id: outputId, ...(await decideHeld(deps, agentId, outputId, { action: command.action, by, ...(command.reason ? { reason: command.reason } : {}) })) });
  }
  const data = [
    ...results.map((r) => ({ id: r.id, agentId: r.output?.agentId, outcome: r.outcome, status: r.output?.status, detail: r.detail })),
    ...missing.map((id) => ({ id, outcome: 'refused', detail: `no held output ${id}${command.agent ? ` of ${command.agent}` : ''}: \`nightshift held\` lists them` })),
    ...ambiguous.map(({ id, agents: by }) => ({ id, outcome: 'refused', detail: `${id} is held by ${by.join(' and ')}: name the agent with --agent; nothing was decided` })),
  ];
  const text = data.length === 0 ? `Nothing of ${command.agent} is held.` : data.map((d) => `${d.id}: ${d.outcome}: ${d.detail}`).join('\n');
  const ok = data.every((d) => d.outcome === (command.action === 'approve' ? 'published' : 'rejected'));
  return { data, text, ok };
}

/** A decision on a local run's state: the publishing run is the agent's real handler on it; the state is saved after. */
export async function decideLocal(pipeline: PipelineConfig, stateDir: string, command: DecisionCommand): Promise<CommandResult & { ok: boolean }> {
  const snapshot = readSnapshot(stateDir);
  const modules = new Map(await Promise.all(pipeline.agents.filter((a) => a.review).map(async (a) => [a.id, await loadAgentModule(a)] as const)));
  process.stderr.write(`nightshift: starting DynamoDB Local and the local SQS on ${stateDir} to ${command.action}\n`);
  const clock = new ManualClock(snapshot.now);
  const local = await LocalPipeline.start({ pipeline, clock, stateDir });
  try {
    for (const row of snapshot.schedules) local.schedules.state.set(row.name, row.enabled);
    const result = await decide(pipeline, localReview(local, modules), `${userInfo().username}@${hostname()} (nightshift CLI, local)`, command);
    await saveLocalState(pipeline, stateDir, local, clock);
    return result;
  } finally {
    await local.stop();
  }
}

/**
 * A decision on a deployed stack, recorded as the caller's AWS identity; an approval invokes the agent's function
 * with its publishing run and waits for it.
 */
export async function decideDeployed(target: Target, stage: string, command: DecisionCommand): Promise<CommandResult & { ok: boolean }> {
  const [{ STSClient, GetCallerIdentityCommand }, { deployedReview }] = await Promise.all([import('@aws-sdk/client-sts'), import('../lambdas/shared/review-deps.ts')]);
  const { Arn } = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  if (!Arn) throw new NightshiftError('STS did not say who the caller is: a decision must record who made it');
  // The publishing runs as the approval function starts them: a synchronous Invoke of the agent's function.
  const deps = deployedReview({ counterTable: target.names.counters, agentFunctions: await deployedAgentFunctions(target.pipeline, stage) }, target.client, target.clock);
  return decide(target.pipeline, deps, `${Arn} (nightshift CLI)`, command);
}

/** The payload's first 160 characters of JSON, on one line. */
function preview(payload: unknown): string {
  const json = JSON.stringify(payload) ?? 'null';
  return json.length > 160 ? `${json.slice(0, 159)}…` : json;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function ago(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}
