import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AlertSink } from '../breaker/alerts.ts';
import type { BreakerState } from '../breaker/breaker-state.ts';
import type { Clock } from '../clock.ts';
import type { RunEntry } from '../run-history.ts';
import { NightshiftError } from '../../errors.ts';
import { UNKNOWN_SENDER } from '../../contract/tables.ts';
import { REJECTIONS_COUNTED_MAX } from '../memory/reader.ts';
import { type Incident, IncidentStore, PAGE_CLAIM_MS } from './incidents.ts';
import type { WatchSpec } from '../../config/watch-spec.ts';

export type { WatchSpec, WatchedAgent } from '../../config/watch-spec.ts';

/**
 * The watch: every few minutes it reads what the pipeline already keeps (run records, the breaker's state, the
 * steward's rejections, queue depths) and pages through the alert topic when something goes wrong and again when it
 * clears, once per incident however many watch runs overlap. It replaces CloudWatch's custom metrics and alarms
 * (`monitoring: 'watch'`), which cost about as much as the VPS the field report ran on.
 */
/** Where the watch reads the pipeline's state. */
export interface WatchSources {
  /** The agent's newest runs, newest first. */
  runs(agentId: string, limit: number): Promise<readonly RunEntry[]>;
  breaker(): Promise<BreakerState>;
  /** Embeddings that failed in the last hour before `now`, and the last error. @default - not watched (no embeddings) */
  embeddingFailures?(now: number): Promise<{ readonly count: number; readonly lastError?: string }>;
  /** Memory updates the steward rejected after `sinceMs`, by sender (an agent id, or `unknown`); senders with none left out. */
  rejectionsSince(sinceMs: number): Promise<Readonly<Record<string, number>>>;
  queues(): Promise<{
    readonly memoryVisible: number;
    readonly memoryDeadLetters: number;
    readonly scheduleDeadLetters: number;
    /** Each agent's invocations that never ran (its own dead-letter queue), by agent id. @default none */
    readonly lostInvocations?: Readonly<Record<string, number>>;
    /** Alerts kept because they could not be delivered: a subscription's dead letters, the pager's failed posts. */
    readonly undeliveredAlerts: number;
    /** Stream records the embedder gave up on after its retries (its `Failures` queue). @default 0 (no embedder) */
    readonly embeddingsGivenUp?: number;
  }>;
}

export interface WatchOptions {
  readonly spec: WatchSpec;
  readonly sources: WatchSources;
  readonly client: DynamoDBDocumentClient;
  /** The coordination table: incidents and the watch's own state live there. */
  readonly tableName: string;
  readonly clock: Clock;
  readonly alerts: AlertSink;
}

/** What one watch run did. */
export interface WatchTick {
  readonly at: number;
  readonly opened: readonly string[];
  readonly resolved: readonly string[];
  /** Transitions another overlapping run made first (nothing paged here for them). */
  readonly lost: number;
  /** Incidents whose page this run could not publish: left pending, sent by the next run. */
  readonly unsent: readonly string[];
  /**
   * Until when another run would find nothing new unless the pipeline's state changes meanwhile (a run, an update, a
   * queue): the earliest silence or waiting deadline. Local mode skips the runs before it while nothing happens.
   */
  readonly quietUntil: number;
}

interface Condition {
  readonly subject: string;
  readonly detail: string;
  /** False for an incident whose page someone else sends (a breaker trip: its own single alert). */
  readonly pages: boolean;
}

const MINUTE = 60_000;
const STATE_KEY = { pk: 'watch#state', sk: 'state' };

export class Watch {
  private readonly incidents: IncidentStore;

  constructor(private readonly options: WatchOptions) {
    this.incidents = new IncidentStore({ client: options.client, tableName: options.tableName });
  }

  /** Every incident key the spec can raise. */
  keys(): string[] {
    return incidentKeys(this.options.spec);
  }

  async run(): Promise<WatchTick> {
    const { clock } = this.options;
    const now = clock.now();
    const state = await this.state(now);
    const incidents = await this.incidents.get(this.keys());
    const open = new Map([...incidents].filter(([, incident]) => incident.status === 'open'));
    const { active, memoryWaitingSince, quietUntil } = await this.evaluate(now, state, open);
    const tick = { at: now, opened: [] as string[], resolved: [] as string[], lost: 0, unsent: [] as string[], quietUntil };
    const label = this.options.spec.label;
    // Pages of earlier transitions that did not go out (the publish failed, or its run died): sent now, once.
    for (const incident of incidents.values()) {
      const { pending } = incident;
      if (!pending || (pending.claimedAt !== undefined && pending.claimedAt > now - PAGE_CLAIM_MS)) continue;
      if (await this.incidents.claimPage(incident, now)) await this.send(incident.key, incident, pending, now, tick);
    }
    for (const [key, condition] of active) {
      if (open.has(key)) continue;
      const page = condition.pages ? boundedPage(`[${label}] ${condition.subject}`, condition.detail) : undefined;
      if (!(await this.incidents.open(key, condition.subject, page, now))) {
        tick.lost++;
        continue;
      }
      tick.opened.push(key);
      if (page) await this.send(key, { status: 'open', openedAt: now }, page, now, tick);
    }
    for (const [key, incident] of open) {
      if (active.has(key)) continue;
      const page = boundedPage(`[${label}] RESOLVED: ${incident.subject}`, resolution(incident, now));
      if (!(await this.incidents.resolve(key, incident.openedAt, page, now))) {
        tick.lost++;
        continue;
      }
      tick.resolved.push(key);
      await this.send(key, { status: 'resolved', openedAt: incident.openedAt }, page, now, tick);
    }
    await this.options.client.send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: { ...STATE_KEY, lastTickAt: now, baselineAt: state.baselineAt, ...(memoryWaitingSince === undefined ? {} : { memoryWaitingSince }) },
      }),
    );
    // The run fails (the watch's own alarm sees it) once every transition was recorded and every page tried.
    if (tick.unsent.length > 0) throw new PagesUnsentError(tick.unsent, tick);
    return tick;
  }

  /** Publishes a claimed page; marks it sent only once the publish succeeded, else gives the claim back for a retry. */
  private async send(key: string, transition: { status: Incident['status']; openedAt: number }, page: { subject: string; message: string }, now: number, tick: { unsent: string[] }) {
    try {
      await this.options.alerts.publish(page);
    } catch {
      tick.unsent.push(key);
      await this.incidents.unclaim(key, transition);
      return;
    }
    await this.incidents.paged(key, transition, now);
  }

  /** The watch's own memory between runs: when it last looked, when it began, since when updates have waited. */
  private async state(now: number): Promise<{ since: number; baselineAt: number; memoryWaitingSince?: number }> {
    const { Item } = await this.options.client.send(new GetCommand({ TableName: this.options.tableName, Key: STATE_KEY, ConsistentRead: true }));
    if (!Item) return { since: now, baselineAt: now };
    return { since: Item.lastTickAt as number, baselineAt: Item.baselineAt as number, ...(Item.memoryWaitingSince === undefined ? {} : { memoryWaitingSince: Item.memoryWaitingSince as number }) };
  }

  /** The incidents that hold now: conditions of the pipeline's state, and open ones that have not cleared. */
  private async evaluate(now: number, state: { since: number; baselineAt: number; memoryWaitingSince?: number }, open: ReadonlyMap<string, Incident>) {
    const { spec, sources } = this.options;
    const active = new Map<string, Condition>();
    // Time alone can open a silence or a waiting incident, and resolve a rejections one: the earliest such moment.
    let quietUntil = Number.POSITIVE_INFINITY;
    const [breaker, rejected, queues, runs, embedding] = await Promise.all([
      sources.breaker(),
      sources.rejectionsSince(state.since),
      sources.queues(),
      Promise.all(spec.agents.map(async (agent) => [agent, await sources.runs(agent.id, 20)] as const)),
      sources.embeddingFailures?.(now),
    ]);
    // Embeddings that keep failing: entries are still found by their words, but retrieval by meaning is degrading.
    if (embedding && embedding.count >= EMBEDDING_FAILURES_PAGE_AT) {
      active.set('embeddings-failing', {
        subject: `${embedding.count} memory embeddings failed in the last hour`,
        detail: `The steward could not embed ${embedding.count} entries (last: ${embedding.lastError ?? 'unknown'}): they are found by their words until next written. Check the embedding model's access and throttling.`,
        pages: true,
      });
    } else if (embedding && embedding.count > 0 && open.has('embeddings-failing')) {
      quietUntil = Math.min(quietUntil, now + 5 * MINUTE);
    }
    const halted = breaker.status !== 'CLOSED';
    if (halted) {
      active.set('breaker', { subject: `circuit breaker ${breaker.status}: ${breaker.agentId ?? ''} (${breaker.reason ?? ''})`, detail: breaker.detail ?? '', pages: false });
    }
    for (const [agent, entries] of runs) {
      const newest = entries[0];
      const lastCompleted = entries.find((e) => e.status === 'completed');
      const lastAt = lastCompleted ? Date.parse(lastCompleted.endedAt) : state.baselineAt;
      // A halted pipeline is silent on purpose, and the trip already paged once.
      // An open silence resolves only when the agent runs, which is news in itself.
      if (agent.silentAfterMs !== undefined && !halted && !open.has(`silent:${agent.id}`)) quietUntil = Math.min(quietUntil, lastAt + agent.silentAfterMs + 1);
      if (agent.silentAfterMs !== undefined && !halted && now - lastAt > agent.silentAfterMs) {
        active.set(`silent:${agent.id}`, {
          subject: `${agent.id} is silent: no run completed since ${new Date(lastAt).toISOString()}`,
          detail: `${agent.id} has completed no run in ${minutes(now - lastAt)} (it should within ${minutes(agent.silentAfterMs)}): check \`nightshift schedules\` (disabled?) and \`nightshift status\`, then \`nightshift invoke ${agent.id}\` to run it now.`,
          pages: true,
        });
      }
      const recent = entries.filter((e) => Date.parse(e.startedAt) > state.since);
      const degraded = recent.find((e) => e.degraded);
      const cleared = newest?.status === 'completed' && !newest.degraded;
      if (degraded || (open.has(`stale-upstream:${agent.id}`) && !cleared)) {
        active.set(`stale-upstream:${agent.id}`, {
          subject: `${agent.id} runs degraded: an upstream is stale or failed`,
          detail: `${agent.id} ran degraded${degraded?.detail ? ` (${degraded.detail})` : ''}: \`nightshift status\` shows whose heartbeat.`,
          pages: true,
        });
      }
      const failed = recent.find((e) => e.status === 'failed');
      if (failed || (open.has(`failed-runs:${agent.id}`) && newest?.status !== 'completed')) {
        active.set(`failed-runs:${agent.id}`, {
          subject: `${agent.id}'s runs fail`,
          detail: `${agent.id}'s run ${failed?.taskId ?? ''} failed${failed?.detail ? `: ${failed.detail}` : ''}. \`nightshift runs --agent ${agent.id}\` lists them.`,
          pages: true,
        });
      }
    }
    // Rejections are events: open while new ones arrive, resolved at the first run that finds none. One incident per
    // sender, so an agent whose updates keep being rejected never keeps another's rejections from paging.
    for (const sender of [...spec.agents.map((a) => a.id), UNKNOWN_SENDER]) {
      const count = rejected[sender] ?? 0;
      const key = `memory-rejected:${sender}`;
      if (count > 0 || open.has(key)) quietUntil = now;
      if (count > 0) {
        const who = sender === UNKNOWN_SENDER ? 'a sender that is no agent of the pipeline' : sender;
        active.set(key, {
          subject: `${count >= REJECTIONS_COUNTED_MAX ? `${count}+` : count} memory update(s) of ${who} rejected`,
          detail: '`nightshift status` lists each rejection with its sender and reason.',
          pages: true,
        });
      }
    }
    if (queues.memoryDeadLetters > 0) {
      active.set('memory-dead-letters', {
        subject: `${queues.memoryDeadLetters} memory update(s) dead-lettered`,
        detail: 'The steward failed them repeatedly: fix the cause, then `nightshift dlq redrive`.',
        pages: true,
      });
    }
    const memoryWaitingSince = queues.memoryVisible > 0 ? (state.memoryWaitingSince ?? now) : undefined;
    const maxAge = spec.maxUpdateAgeMs ?? 15 * MINUTE;
    if (memoryWaitingSince !== undefined) quietUntil = Math.min(quietUntil, memoryWaitingSince + maxAge);
    if (memoryWaitingSince !== undefined && now - memoryWaitingSince >= maxAge) {
      active.set('memory-waiting', {
        subject: `memory updates waiting for ${minutes(now - memoryWaitingSince)}`,
        detail: `${queues.memoryVisible} update(s) are waiting in the memory queue: is the steward failing or throttled?`,
        pages: true,
      });
    }
    if (queues.scheduleDeadLetters > 0) {
      active.set('schedule-dead-letters', {
        subject: `${queues.scheduleDeadLetters} invocation(s) of the pipeline's own functions lost`,
        detail: 'EventBridge Scheduler gave up on them, or the runs failed every retry (throttled, or erroring): the watch or the breaker watchdog did not run.',
        pages: true,
      });
    }
    // Per agent: an agent's role can send to its own queue only, so it can keep no other agent's incident open.
    for (const agent of spec.agents) {
      const lost = queues.lostInvocations?.[agent.id] ?? 0;
      if (lost > 0) {
        active.set(`lost-invocations:${agent.id}`, {
          subject: `${lost} invocation(s) of ${agent.id} lost`,
          detail: `EventBridge Scheduler or a trigger's rule gave up on them, or the runs failed every retry (throttled, or erroring): they did not run. \`nightshift invoke ${agent.id} --at <time>\` runs a slot again.`,
          pages: true,
        });
      }
    }
    if ((queues.embeddingsGivenUp ?? 0) > 0) {
      active.set('embeddings-given-up', {
        subject: `${queues.embeddingsGivenUp} batch(es) of memory entries the embedder gave up on`,
        detail:
          "After its retries, the embedder left them in its Failures queue (each message says where in the table's stream): those entries are found by their words only until they are written again. Read the embedder's logs, fix the cause, then write the entries again and purge the queue.",
        pages: true,
      });
    }
    if (queues.undeliveredAlerts > 0) {
      active.set('undelivered-alerts', {
        subject: `${queues.undeliveredAlerts} alert(s) could not be delivered`,
        detail: 'A subscription (email) or the pager forwarder failed to deliver them: check the pager webhook parameter and the subscriptions, then read the failure queues.',
        pages: true,
      });
    }
    return { active, memoryWaitingSince, quietUntil };
  }
}

/** Every incident key a watch of these agents can raise. */
export function incidentKeys(spec: Pick<WatchSpec, 'agents'>): string[] {
  const agents = spec.agents.flatMap((a) => [`silent:${a.id}`, `stale-upstream:${a.id}`, `failed-runs:${a.id}`, `memory-rejected:${a.id}`, `lost-invocations:${a.id}`]);
  return [...agents, `memory-rejected:${UNKNOWN_SENDER}`, 'embeddings-failing', 'embeddings-given-up', 'memory-dead-letters', 'memory-waiting', 'schedule-dead-letters', 'undelivered-alerts', 'breaker'];
}

/** A watch run recorded every transition but could not publish some pages: they stay pending for the next run. */
export class PagesUnsentError extends NightshiftError {
  override name = 'PagesUnsentError';
  constructor(
    readonly keys: readonly string[],
    readonly tick: WatchTick,
  ) {
    super(`could not publish the page(s) of ${keys.join(', ')}: they stay pending and the next watch run sends them`);
  }
}

/** Failed embeddings in an hour from which the watch pages (a single failure is retried by the next write). */
export const EMBEDDING_FAILURES_PAGE_AT = 3;

/** SNS's limits and a reader's: a subject of at most 100 printable ASCII characters, a message of at most 8 KB. */
export const PAGE_SUBJECT_MAX = 100;
export const PAGE_MESSAGE_MAX = 8_000;

/** A page that SNS accepts whatever an agent put into the text it quotes (a run's detail, a breaker's reason). */
export function boundedPage(subject: string, message: string): { subject: string; message: string } {
  // SNS refuses a subject with line breaks or characters outside printable ASCII.
  const cleanSubject = subject.replace(/[^\x20-\x7e]+/g, ' ').replace(/ {2,}/g, ' ').trim();
  const boundedSubject = cleanSubject.length > PAGE_SUBJECT_MAX ? `${cleanSubject.slice(0, PAGE_SUBJECT_MAX - 3)}...` : cleanSubject;
  const boundedMessage = message.length > PAGE_MESSAGE_MAX ? `${message.slice(0, PAGE_MESSAGE_MAX - 60)}... (${message.length - PAGE_MESSAGE_MAX + 60} more characters cut)` : message;
  return { subject: boundedSubject || '(no subject)', message: boundedMessage };
}

function resolution(incident: Incident, now: number): string {
  return `Cleared at ${new Date(now).toISOString()}, ${minutes(now - incident.openedAt)} after it was opened.`;
}

function minutes(ms: number): string {
  const total = Math.round(ms / MINUTE);
  return total >= 120 ? `${Math.round(total / 60)} h` : `${total} min`;
}

/** The watch's sources over the pipeline's own stores, and `queues` from wherever the queues are. */
export function storeSources(parts: {
  readonly history: { list(agentIds: readonly string[], limit?: number): Promise<RunEntry[]> };
  readonly breaker: () => Promise<BreakerState>;
  readonly reader: { rejectedSince(sinceMs: number): Promise<Readonly<Record<string, number>>> };
  readonly embeddingFailures?: WatchSources['embeddingFailures'];
  readonly queues: WatchSources['queues'];
}): WatchSources {
  return {
    runs: (agentId, limit) => parts.history.list([agentId], limit),
    breaker: parts.breaker,
    rejectionsSince: (since) => parts.reader.rejectedSince(since),
    ...(parts.embeddingFailures ? { embeddingFailures: parts.embeddingFailures } : {}),
    queues: parts.queues,
  };
}
