import { redriveDeadLetters } from '../runtime/memory/redrive';
import type { Target } from './target';

/** The ops commands: each returns a plain object (printed as JSON with `--json`) and a human rendering. */
export interface CommandResult {
  readonly data: unknown;
  readonly text: string;
}

const minutes = (ms: number) => `${Math.round(ms / 6_000) / 10} min`;

export async function status(target: Target): Promise<CommandResult> {
  const now = target.clock.now();
  const breaker = await target.breaker.state();
  const heartbeats = await Promise.all(
    target.pipeline.agents.map(async (agent) => {
      const beat = await target.heartbeats.last(agent.id);
      return beat
        ? { agentId: agent.id, status: beat.status, runId: beat.runId, ageMs: now - beat.beatAt, ...(beat.detail ? { detail: beat.detail } : {}) }
        : { agentId: agent.id, status: 'never', ageMs: null };
    }),
  );
  const locks = await target.locks.held();
  const queues = await target.queueDepths();
  const rejected = await target.reader.rejections();
  const byReason: Record<string, number> = {};
  for (const r of rejected) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  const latest = rejected.slice(-5).map((r) => ({ at: new Date(r.rejectedAt).toISOString(), reason: r.reason, detail: r.detail, messageId: r.messageId }));
  const data = { target: target.label, at: new Date(now).toISOString(), breaker, heartbeats, locks, queues, rejectedUpdates: rejected.length, rejectedByReason: byReason, latestRejections: latest };
  const lines = [
    `${target.label} at ${data.at}`,
    '',
    `breaker: ${breaker.status}${breaker.since ? ` since ${new Date(breaker.since).toISOString()}` : ''}${breaker.detail ? ` (${breaker.reason}: ${breaker.detail})` : ''}`,
    '',
    'heartbeats:',
    ...heartbeats.map((h) => `  ${h.agentId.padEnd(12)} ${String(h.status).padEnd(10)} ${h.ageMs === null ? '' : `${minutes(h.ageMs)} ago`}${'detail' in h && h.detail ? `  ${h.detail}` : ''}`),
    '',
    `locks held: ${locks.length === 0 ? 'none' : ''}`,
    ...locks.map((l) => `  ${l.taskId}  owner ${l.owner}  token ${l.fencingToken}  expires ${new Date(l.leaseExpiresAt).toISOString()}`),
    `memory queue: ${queues.queue} waiting, ${queues.inFlight} in flight; dead letters: ${queues.deadLetters}; rejected updates: ${rejected.length}` +
      (rejected.length ? ` (${Object.entries(byReason).sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => `${n} ${reason}`).join(', ')})` : ''),
    // Rejections include writes outside an agent's namespaces and impersonation: shown like any other.
    ...latest.map((r) => `  ${r.at}  ${r.reason}: ${r.detail}`),
  ];
  return { data, text: lines.join('\n') };
}

export async function breakerReset(target: Target): Promise<CommandResult> {
  const result = await target.breaker.reset();
  const text = result.wasOpen
    ? `Breaker closed. Schedules re-enabled: ${result.enabled.length ? result.enabled.join(', ') : 'none had been disabled'}.`
    : 'Breaker was already closed; nothing to do.';
  return { data: result, text };
}

export async function locksRelease(target: Target, taskId: string, force: boolean): Promise<CommandResult> {
  if (!force) {
    throw new Error(
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
  if (!target.queues) {
    throw new Error('The local queues exist only while `nightshift local` runs; redrive works against a deployed stack (--stage)');
  }
  const result = await redriveDeadLetters({ sqs: target.queues.sqs, queueUrl: target.queues.queueUrl, deadLetterQueueUrl: target.queues.deadLetterQueueUrl });
  return { data: result, text: `Moved ${result.moved} dead-lettered update(s) back to the memory queue.` };
}

export async function memoryGet(target: Target, namespace: string, key: string): Promise<CommandResult> {
  const entry = await target.reader.get(namespace, key);
  if (!entry) throw new Error(`No memory entry ${namespace}/${key}`);
  return { data: entry, text: JSON.stringify(entry, null, 2) };
}
