import { UsageError } from '../src/errors.ts';
import type { BreakerState } from '../src/runtime/breaker/breaker.ts';
import type { MemoryEntry } from '../src/runtime/memory/reader.ts';

/** What a CLI command returns: a plain object (printed as JSON with `--json`) and its human rendering. */
export interface CommandResult {
  readonly data: unknown;
  readonly text: string;
}

/** What `nightshift status` reports, as JSON (`--json`) and as text; read from a snapshot or from the stores. */
export interface StatusData {
  readonly target: string;
  readonly at: string;
  /** The breaker's state, its `since` as an ISO time. */
  readonly breaker: Omit<BreakerState, 'since'> & { readonly since?: string };
  /** Each agent's last heartbeat: when (ISO), how long ago, and the run it came from. */
  readonly heartbeats: readonly ({ agentId: string; status: string; beatAt: string | null; ageMs: number | null; runId?: string; detail?: string })[];
  readonly locks: readonly { taskId: string; owner: string; fencingToken: number; leaseExpiresAt: string }[];
  readonly queues: { queue: number; inFlight: number; deadLetters: number };
  readonly rejectedUpdates: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly latestRejections: readonly { at: string; sender: string; reason: string; detail: string; messageId: string }[];
  /** The watch's open incidents as it last saw them (`monitoring: 'watch'` only), each opened at an ISO time. */
  readonly incidents?: readonly { key: string; subject: string; openedAt: string }[];
}

const minutes = (ms: number) => `${Math.round(ms / 6_000) / 10} min`;

export function renderStatus(data: StatusData): string {
  const { breaker, heartbeats, locks, queues, rejectedByReason } = data;
  return [
    `${data.target} at ${data.at}`,
    '',
    `breaker: ${breaker.status}${breaker.since ? ` since ${breaker.since}` : ''}${breaker.detail ? ` (${breaker.reason}: ${breaker.detail})` : ''}`,
    '',
    'heartbeats:',
    ...heartbeats.map((h) => `  ${h.agentId.padEnd(12)} ${h.status.padEnd(10)} ${h.ageMs === null ? '' : `${minutes(h.ageMs)} ago`}${h.detail ? `  ${h.detail}` : ''}`),
    '',
    `locks held: ${locks.length === 0 ? 'none' : ''}`,
    ...locks.map((l) => `  ${l.taskId}  owner ${l.owner}  token ${l.fencingToken}  expires ${l.leaseExpiresAt}`),
    `memory queue: ${queues.queue} waiting, ${queues.inFlight} in flight; dead letters: ${queues.deadLetters}; rejected updates: ${data.rejectedUpdates}` +
      (data.rejectedUpdates
        ? ` (${Object.entries(rejectedByReason).sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => `${n} ${reason}`).join(', ')})`
        : ''),
    // Rejections include writes outside an agent's namespaces and impersonation: shown like any other.
    ...data.latestRejections.map((r) => `  ${r.at}  ${r.sender}  ${r.reason}: ${r.detail}`),
    ...(data.incidents ? [`open incidents (as the watch last saw them): ${data.incidents.length === 0 ? 'none' : ''}`, ...data.incidents.map((i) => `  since ${i.openedAt}  ${i.subject}`)] : []),
  ].join('\n');
}

/** `memory get`: the entry, or an error naming what is missing. */
export function memoryResult(namespace: string, key: string, entry: MemoryEntry | undefined): CommandResult {
  if (!entry) throw new UsageError(`No memory entry ${namespace}/${key}`);
  const data = withIsoTime(entry);
  return { data, text: JSON.stringify(data, null, 2) };
}

/** A memory entry as the CLI prints it: `updatedAt` as an ISO time. */
export function withIsoTime(entry: MemoryEntry): Omit<MemoryEntry, 'updatedAt'> & { updatedAt: string } {
  return { ...entry, updatedAt: new Date(entry.updatedAt).toISOString() };
}
