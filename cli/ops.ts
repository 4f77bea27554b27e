import { UsageError } from '../src/errors.ts';
import type { MemoryEntry } from '../src/runtime/memory/reader.ts';
import { type CommandResult, type StatusData, memoryResult, renderStatus } from './render.ts';
import { writeSnapshot } from './snapshot.ts';
import { type ScheduleRow, memoryListView, runsView, schedulesView } from './views.ts';
import { scheduleName } from '../src/config/agent-spec.ts';
import type { Target } from './target.ts';
import { watchSpec } from '../src/config/watch-plan.ts';
import { IncidentStore } from '../src/runtime/watch/incidents.ts';
import { UnreadableItemError } from '../src/runtime/agent-items.ts';
import { incidentKeys } from '../src/runtime/watch/watch.ts';
import { heldLocks } from '../src/runtime/held-locks.ts';

export type { CommandResult };

/** The status of the target's stores now. */
export async function statusData(target: Target): Promise<StatusData> {
  const now = target.clock.now();
  const { since, ...breakerState } = await target.breaker.state();
  const breaker = { ...breakerState, ...(since === undefined ? {} : { since: new Date(since).toISOString() }) };
  const heartbeats = await Promise.all(
    target.pipeline.agents.map(async (agent) => {
      // The agent writes its own heartbeat: one that does not parse is shown as such, never fails the status.
      const beat = await target.heartbeats.last(agent.id).catch((error: unknown) => {
        if (error instanceof UnreadableItemError) return error;
        throw error;
      });
      if (beat instanceof UnreadableItemError) return { agentId: agent.id, status: 'unreadable', beatAt: null, ageMs: null, detail: beat.message };
      return beat
        ? { agentId: agent.id, status: beat.status, runId: beat.runId, beatAt: new Date(beat.beatAt).toISOString(), ageMs: now - beat.beatAt, ...(beat.detail ? { detail: beat.detail } : {}) }
        : { agentId: agent.id, status: 'never', beatAt: null, ageMs: null };
    }),
  );
  const locks = (await heldLocks({ client: target.client, tableName: target.names.coordination, clock: target.clock })).map((l) => ({ ...l, leaseExpiresAt: new Date(l.leaseExpiresAt).toISOString() }));
  const queues = await target.queueDepths();
  const rejected = await target.reader.rejections();
  const byReason: Record<string, number> = {};
  for (const r of rejected) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  const latest = rejected.slice(-5).map((r) => ({ at: new Date(r.rejectedAt).toISOString(), sender: r.sender, reason: r.reason, detail: r.detail, messageId: r.messageId }));
  const incidents = target.pipeline.monitoring === 'watch' ? await openIncidents(target) : undefined;
  return {
    target: target.label,
    at: new Date(now).toISOString(),
    breaker,
    heartbeats,
    locks,
    queues,
    rejectedUpdates: rejected.length,
    rejectedByReason: byReason,
    latestRejections: latest,
    ...(incidents ? { incidents } : {}),
  };
}

/** The watch's open incidents, oldest first. */
async function openIncidents(target: Target): Promise<NonNullable<StatusData['incidents']>> {
  const found = await new IncidentStore({ client: target.client, tableName: target.names.coordination }).get(incidentKeys(watchSpec(target.pipeline)));
  return [...found.values()]
    .filter((i) => i.status === 'open')
    .sort((a, b) => a.openedAt - b.openedAt)
    .map((i) => ({ key: i.key, subject: i.subject, openedAt: new Date(i.openedAt).toISOString() }));
}

export async function status(target: Target): Promise<CommandResult> {
  const data = await statusData(target);
  return { data, text: renderStatus(data) };
}

/** Every live entry of each namespace the pipeline's agents write, for the local snapshot. */
export async function memoryEntries(target: Target): Promise<Record<string, MemoryEntry[]>> {
  const namespaces = [...new Set(target.pipeline.agents.flatMap((a) => a.memory.writes))].sort();
  return Object.fromEntries(await Promise.all(namespaces.map(async (namespace) => [namespace, await namespaceEntries(target, namespace)] as const)));
}

/** One namespace's live entries, in key order, every page. */
async function namespaceEntries(target: Target, namespace: string): Promise<MemoryEntry[]> {
  const entries: MemoryEntry[] = [];
  let startAfterKey: string | undefined;
  do {
    const page = await target.reader.query(namespace, startAfterKey === undefined ? {} : { startAfterKey });
    entries.push(...page.entries);
    startAfterKey = page.nextKey;
  } while (startAfterKey !== undefined);
  return entries;
}

export async function breakerReset(target: Target, how: { readonly stage?: string; readonly stack?: string; readonly config?: string; readonly stateDir?: string } = {}): Promise<CommandResult> {
  const before = await target.breaker.state();
  const result = await target.breaker.reset();
  if (!result.wasOpen) return { data: result, text: 'Breaker was already closed; nothing to do.' };
  // Runs refused while it was open are not run again by themselves: the operator may replay them.
  const since = before.since === undefined ? undefined : new Date(before.since).toISOString();
  const refused = since ? (await target.history.since(target.pipeline.agents.map((a) => a.id), since)).filter((r) => r.status === 'halted') : [];
  const triggered = refused.filter((r) => r.trigger !== undefined && r.trigger !== 'schedule').length;
  // The command as the operator would type it next: the same target, the same config.
  const where = how.stage ? [`--stage ${how.stage}`, ...(how.stack ? [`--stack ${how.stack}`] : [])] : ['--local', ...(how.stateDir && how.stateDir !== '.nightshift/local' ? [`--state-dir ${how.stateDir}`] : [])];
  const command = since ? ['nightshift replay --refused --since', since, ...where, ...(how.config && how.config !== 'nightshift.config.ts' ? [`--config ${how.config}`] : [])].join(' ') : '';
  const text = [
    `Breaker closed. Schedules re-enabled: ${result.enabled.length ? result.enabled.join(', ') : 'none had been disabled'}.`,
    ...(refused.length
      ? [`${refused.length} run(s) were refused or halted while it was open (${triggered} started by outputs or events, which nothing runs again); to run them again: ${command}`]
      : ['No run was refused while it was open.']),
  ].join('\n');
  return { data: { ...result, refusedWhileOpen: refused.length, triggeredRefused: triggered, ...(since ? { openSince: since, replay: command } : {}) }, text };
}

export async function locksRelease(target: Target, taskId: string, force: boolean): Promise<CommandResult> {
  if (!force) {
    throw new UsageError(
      `Releasing ${taskId} evicts whoever holds it; if that run is still alive it will lose its lock. Add --force to do it.`,
    );
  }
  const evicted = await target.locks.forceRelease(taskId, `operator:${process.env.USER ?? 'unknown'}`);
  return {
    data: { taskId, evicted: evicted ?? null },
    text: evicted ? `Released ${taskId} (held by ${evicted}).` : `${taskId} was not held; nothing to evict.`,
  };
}

export async function dlqRedrive(target: Target): Promise<CommandResult> {
  if (!target.redrive) {
    throw new UsageError('The local queues exist only while `nightshift local` runs; redrive works against a deployed stack (--stage)');
  }
  const result = await target.redrive();
  return { data: result, text: `Moved ${result.moved} dead-lettered update(s) back to the memory queue.` };
}

export async function memoryGet(target: Target, namespace: string, key: string): Promise<CommandResult> {
  return memoryResult(namespace, key, await target.reader.get(namespace, key));
}

/** Writes the snapshot the local read commands read: the target's status, memory, schedules and runs now. */
export async function saveSnapshot(target: Target, stateDir: string): Promise<void> {
  writeSnapshot(stateDir, {
    now: target.clock.now(),
    status: await statusData(target),
    memory: await memoryEntries(target),
    schedules: await scheduleRows(target),
    runs: await target.history.list(target.pipeline.agents.map((a) => a.id), 200),
  });
}

/** The pipeline's schedules with their state now. */
export async function scheduleRows(target: Target): Promise<ScheduleRow[]> {
  const states = await target.scheduleStates();
  return target.pipeline.agents.flatMap((agent) =>
    agent.schedules.map((entry, i) => {
      const name = scheduleName(agent.id, i, target.schedulePrefix);
      return { name, agentId: agent.id, cron: entry.cron, timeZone: entry.timeZone, enabled: states[name] ?? false };
    }),
  );
}

export async function schedules(target: Target): Promise<CommandResult> {
  return schedulesView(await scheduleRows(target), target.clock.now());
}

/** The newest runs of one agent (`agentId`) or all, newest first. */
export async function runs(target: Target, agentId: string | undefined, limit: number): Promise<CommandResult> {
  const agents = target.pipeline.agents.map((a) => a.id);
  if (agentId !== undefined) checkAgent(agentId, agents);
  return runsView(await target.history.list(agentId === undefined ? agents : [agentId], limit), target.clock.now());
}

export async function memoryList(target: Target, namespace: string): Promise<CommandResult> {
  const written = target.pipeline.agents.some((a) => a.memory.writes.includes(namespace));
  return memoryListView(namespace, written ? await namespaceEntries(target, namespace) : undefined, target.clock.now());
}

/** Throws naming the agent and the pipeline's agents when `agentId` is not one of them. */
export function checkAgent(agentId: string, agents: readonly string[]): void {
  if (!agents.includes(agentId)) throw new UsageError(`No agent '${agentId}' in this pipeline (agents: ${agents.join(', ')})`);
}
