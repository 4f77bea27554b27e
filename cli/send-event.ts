import { loadAgentModule } from '../local/agent-module.ts';
import { UsageError } from '../src/errors.ts';
import { STACK_OUTPUT } from '../src/contract/outputs.ts';
import { RESERVED_SOURCE_PREFIX, matchesTrigger } from '../src/config/trigger-routes.ts';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { LocalPipeline } from '../local/pipeline.ts';
import { ManualClock } from '../src/runtime/clock.ts';
import { describeTrigger, parseInvocation } from '../src/runtime/invocation.ts';
import type { RunOutcome } from '../src/runtime/run-lifecycle.ts';
import { saveLocalState } from './invoke.ts';
import type { CommandResult } from './render.ts';
import { readSnapshot } from './snapshot.ts';

/** An outside event, as `nightshift send-event` takes it. */
export interface OutsideEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
  readonly bus: 'pipeline' | 'default';
}

/**
 * Checks an event before anything starts: a source that is not Nightshift's own, a JSON object for the detail, a bus
 * name, and at least one agent whose triggers take it (else it would run nothing: the error lists what they take).
 */
export function parseOutsideEvent(pipeline: PipelineConfig, options: { source?: string; detailType?: string; detail?: string; bus?: string }): OutsideEvent {
  const { source, detailType } = options;
  if (!source) throw new UsageError('--source is required: the event source your triggers name, e.g. --source tickets');
  if (source.startsWith(RESERVED_SOURCE_PREFIX)) throw new UsageError(`--source '${source}': sources starting with '${RESERVED_SOURCE_PREFIX}' are agents' outputs, which only the agents put`);
  if (!detailType) throw new UsageError("--detail-type is required, e.g. --detail-type 'Ticket opened'");
  const bus = options.bus ?? 'pipeline';
  if (bus !== 'pipeline' && bus !== 'default') throw new UsageError(`--bus must be 'pipeline' or 'default'; got '${bus}'`);
  let detail: unknown = {};
  if (options.detail !== undefined) {
    try {
      detail = JSON.parse(options.detail);
    } catch (error) {
      throw new UsageError(`--detail is not JSON: ${(error as Error).message}`);
    }
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) throw new UsageError('--detail must be a JSON object, e.g. --detail \'{"ticket":"T-1"}\'');
  const event = { source, detailType, detail: detail as Record<string, unknown>, bus } as const;
  if (runsOn(pipeline, event).length === 0) {
    const listening = pipeline.agents.flatMap((a) => a.triggers.flatMap((t) => ('event' in t ? [`${a.id}: ${t.event.source.join('|')}${t.event.detailType ? ` / ${t.event.detailType.join('|')}` : ''} on the ${t.event.bus} bus`] : [])));
    throw new UsageError(`no agent runs on '${source}' / '${detailType}' on the ${bus} bus: nothing was sent. Agents' event triggers: ${listening.join('; ') || 'none (add triggers: [{ event: { source: [...] } }] to an agent)'}`);
  }
  return event;
}

/** The agents whose triggers take `event`. */
function runsOn(pipeline: PipelineConfig, event: OutsideEvent): string[] {
  return pipeline.agents.filter((a) => a.triggers.some((t) => matchesTrigger(t, event))).map((a) => a.id);
}

/**
 * Puts an outside event on the last local run's bus, at the run's end, and runs what it triggers: each matching
 * agent's real handler over the local runtime, and the agents their published outputs trigger in turn, until
 * nothing waits; the steward applies their memory before the state is saved again.
 */
export async function sendEventLocal(pipeline: PipelineConfig, stateDir: string, event: OutsideEvent): Promise<CommandResult> {
  const snapshot = readSnapshot(stateDir);
  const modules = new Map(await Promise.all(pipeline.agents.map(async (agent) => [agent.id, await loadAgentModule(agent)] as const)));
  const works = new Map([...modules].map(([id, module]) => [id, module.work]));
  process.stderr.write(`nightshift: starting DynamoDB Local and the local SQS on ${stateDir} to deliver the event\n`);
  const clock = new ManualClock(snapshot.now);
  const local = await LocalPipeline.start({ pipeline, clock, stateDir });
  for (const [id, module] of modules) if (module.publishers) local.publishers.set(id, module.publishers);
  try {
    for (const row of snapshot.schedules) local.schedules.state.set(row.name, row.enabled);
    const sent = local.bus.send(event, 'operator');
    const runs: { agentId: string; trigger: string; status: string; taskId: string; published: number }[] = [];
    for (let batch = local.bus.take(); batch.length > 0; batch = local.bus.take()) {
      for (const { agentId, event: delivered } of batch) {
        const spec = pipeline.agents.find((a) => a.id === agentId)!;
        const trigger = describeTrigger(parseInvocation(delivered, spec, clock.now()).trigger);
        try {
          const outcome = (await local.handler(agentId, works.get(agentId)!)(delivered)) as RunOutcome<unknown>;
          const published = outcome.status === 'skipped' ? 0 : outcome.outputs.filter((o) => o.published).length;
          runs.push({ agentId, trigger, status: outcome.status, taskId: outcome.taskId, published });
        } catch (error) {
          runs.push({ agentId, trigger, status: `failed: ${(error as Error).message}`, taskId: '', published: 0 });
        }
      }
    }
    await saveLocalState(pipeline, stateDir, local, clock);
    return {
      data: { eventId: sent.event.id, runs },
      text: [`event ${sent.event.id} put on the local ${event.bus} bus`, ...runs.map((r) => `  ${r.agentId}: ${r.status}${r.published ? `, ${r.published} published` : ''} (${r.trigger})`)].join('\n'),
    };
  } finally {
    await local.stop();
  }
}

/** PutEvents to the deployed pipeline's bus (its stack's `EventBusName` output) or the default bus. */
export async function sendEventDeployed(pipeline: PipelineConfig, stage: string, event: OutsideEvent): Promise<CommandResult> {
  const [{ CloudFormationClient, DescribeStacksCommand }, { EventBridgeClient, PutEventsCommand }] = await Promise.all([
    import('@aws-sdk/client-cloudformation'),
    import('@aws-sdk/client-eventbridge'),
  ]);
  let busName = 'default';
  if (event.bus === 'pipeline') {
    const stackName = `${pipeline.name}-${stage}`;
    const { Stacks = [] } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
    const output = Stacks[0]?.Outputs?.find((o) => o.OutputKey === STACK_OUTPUT.eventBusName)?.OutputValue;
    if (!output) throw new UsageError(`Stack ${stackName} has no event bus (output ${STACK_OUTPUT.eventBusName}): deploy a config with triggers with this version of Nightshift`);
    busName = output;
  }
  const result = await new EventBridgeClient({}).send(
    new PutEventsCommand({ Entries: [{ EventBusName: busName, Source: event.source, DetailType: event.detailType, Detail: JSON.stringify(event.detail) }] }),
  );
  const entry = result.Entries?.[0];
  if ((result.FailedEntryCount ?? 0) > 0 || !entry?.EventId) throw new UsageError(`EventBridge refused the event: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`);
  return { data: { eventId: entry.EventId, bus: busName, agents: runsOn(pipeline, event) }, text: `event ${entry.EventId} put on ${busName}; it runs ${runsOn(pipeline, event).join(', ')}` };
}
