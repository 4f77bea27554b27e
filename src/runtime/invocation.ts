import * as z from 'zod/mini';
import { describeIssues } from './schema.ts';
import { NightshiftError } from '../errors.ts';
import { OUTPUT_DETAIL_TYPE, RESERVED_SOURCE_PREFIX, type TriggerConfig, matchesTrigger, outputSource } from '../config/trigger-routes.ts';

/** The longest task id a replay names (the run record keeps task ids of at most 300 characters). */
const MAX_REPLAYED_TASK_ID = 300;

/**
 * What runs an agent: EventBridge Scheduler's input (set by the `Agent` construct, with Scheduler's context
 * attributes filled in), or an EventBridge event a trigger's rule delivers (another agent's published output, or an
 * outside event), and what the local runner sends in their place.
 */
const scheduledSchema = z.object({
  agentId: z.string().check(z.minLength(1)),
  /** The slot this run is for, ISO 8601. Identical across Scheduler's retries of the same slot. */
  scheduledTime: z.iso.datetime({ offset: true }),
  scheduleArn: z._default(z.string(), 'local'),
  attemptNumber: z._default(z.coerce.number().check(z.refine((n) => Number.isInteger(n) && n >= 0, 'must be a whole number ≥ 0')), 0),
  replayOf: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_REPLAYED_TASK_ID))),
  /** Set by a decision on a held output (`nightshift approve`, the approval page, expiry): the output to publish. */
  publishHeld: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
});

/**
 * Set by `nightshift replay` (a direct invoke: neither Scheduler's input nor an EventBridge event can carry it): the
 * task id of the run this one runs again, which gives the replay a task of its own (`<agent>@replay:<task>`).
 */
const replaySchema = z.object({ replayOf: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_REPLAYED_TASK_ID))) });

/** An EventBridge event as a rule delivers it to a Lambda target. */
const eventSchema = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(200)),
  'detail-type': z.string(),
  source: z.string().check(z.minLength(1)),
  time: z.iso.datetime({ offset: true }),
  detail: z.unknown(),
});

/** The most memory updates of an upstream's run a triggered run waits for (an agent's hourly quota is below it). */
export const MAX_AWAITED_UPDATES = 1_000_000;

/**
 * The detail of a published output's event (`OutputEvents`): an upstream's to write, so its ids are bounded (they
 * name the triggered run in its record and its trigger's description).
 */
const outputDetailSchema = z.object({
  agentId: z.string().check(z.maxLength(200)),
  runId: z.string().check(z.minLength(1), z.maxLength(200)),
  outputId: z.string().check(z.minLength(1), z.maxLength(300)),
  degraded: z._default(z.boolean(), false),
  /** The updates the upstream's run had queued (`<runId>:<n>`, n below `submitted`, less `unsent`): bounded. */
  memory: z.optional(
    z.object({
      submitted: z.int().check(z.minimum(0), z.maximum(MAX_AWAITED_UPDATES)),
      unsent: z._default(z.array(z.int().check(z.minimum(0))).check(z.maxLength(10_000)), []),
    }),
  ),
  payload: z.unknown(),
});

/** What started a run: its schedule, an upstream agent's published output, or an outside event. */
export type Trigger =
  | { readonly kind: 'schedule' }
  | {
      readonly kind: 'output';
      readonly eventId: string;
      readonly from: string;
      readonly outputId: string;
      readonly runId: string;
      readonly degraded: boolean;
      readonly payload: unknown;
      /** The memory updates the upstream's run had queued when it published the output. @default - none known */
      readonly memory?: { readonly submitted: number; readonly unsent: readonly number[] };
    }
  | { readonly kind: 'event'; readonly eventId: string; readonly source: string; readonly detailType: string; readonly detail: unknown };

export interface AgentInvocation {
  readonly agentId: string;
  /**
   * The time the run is for: its slot, or, for a triggered run, the event's time clamped to the receiver's clock
   * ({@link EVENT_TIME_SKEW}: the sender of an event sets its time). Orders the agent's heartbeats.
   */
  readonly scheduledTime: string;
  readonly scheduleArn: string;
  readonly attemptNumber: number;
  /** What started the run; a triggered run's input is here (`trigger.payload` or `trigger.detail`). @default schedule */
  readonly trigger?: Trigger;
  /** For a replay (`nightshift replay`): the task id of the run it runs again. */
  readonly replayOf?: string;
  /**
   * For a held output's publishing run: the output's id. The run publishes that output (its named publisher, its
   * event) and runs nothing else; the breaker function lets it only once the output is approved, and once.
   */
  readonly publishHeld?: string;
}

/**
 * How far an event's own time may be from the receiving function's clock before it is clamped: its sender sets it
 * (PutEvents' `Time`), so a far-future time would freeze the ordering of the agent's heartbeats and name memory keys.
 * Behind: EventBridge's retries deliver an event up to 24 hours late. Ahead: clocks disagree by seconds, not more.
 */
export const EVENT_TIME_SKEW = { behindMs: 24 * 60 * 60_000, aheadMs: 5 * 60_000 } as const;

/** An event that is not an agent invocation; names the field and what was wrong. */
export class InvocationError extends NightshiftError {
  override readonly name = 'InvocationError';
}

/**
 * Parses an agent invocation and checks it is addressed to `agent`: a scheduled one names it; an event must match
 * one of its triggers (so a misrouted or forged event runs nothing). An output event's agent is its source, which
 * IAM lets only that agent's role put; the detail's own `agentId` is not believed.
 */
export function parseInvocation(
  event: unknown,
  addressee: string | { readonly id: string; readonly triggers?: readonly TriggerConfig[] },
  now: number,
): AgentInvocation {
  const agent = typeof addressee === 'string' ? { id: addressee } : addressee;
  if (isEvent(event)) {
    const replay = replaySchema.safeParse(event);
    if (!replay.success) throw new InvocationError(`Not an agent invocation: ${describeIssues(replay.error, '(event)')}`);
    const parsed = parseEvent(event, agent, now);
    return replay.data.replayOf ? { ...parsed, replayOf: replay.data.replayOf } : parsed;
  }
  const result = scheduledSchema.safeParse(event);
  if (!result.success) throw new InvocationError(`Not an agent invocation: ${describeIssues(result.error, '(event)')}`);
  if (result.data.agentId !== agent.id) {
    throw new InvocationError(`Invocation for agent '${result.data.agentId}' reached agent '${agent.id}'; check the schedule target`);
  }
  return result.data;
}

function isEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'detail-type' in event;
}

function parseEvent(event: unknown, agent: { readonly id: string; readonly triggers?: readonly TriggerConfig[] }, now: number): AgentInvocation {
  const result = eventSchema.safeParse(event);
  if (!result.success) throw new InvocationError(`Not an agent invocation: not an EventBridge event: ${describeIssues(result.error, '(event)')}`);
  const { id, source, time, detail } = result.data;
  const detailType = result.data['detail-type'];
  const clamped = Math.min(Math.max(Date.parse(time), now - EVENT_TIME_SKEW.behindMs), now + EVENT_TIME_SKEW.aheadMs);
  const base = { agentId: agent.id, scheduledTime: new Date(clamped).toISOString(), scheduleArn: 'event', attemptNumber: 0 };
  const triggers = agent.triggers ?? [];
  if (source.startsWith(RESERVED_SOURCE_PREFIX)) {
    const from = triggers.find((t) => 'outputsOf' in t && outputSource(t.outputsOf) === source && detailType === OUTPUT_DETAIL_TYPE);
    if (!from || !('outputsOf' in from)) throw new InvocationError(`${agent.id} does not run on events from '${source}' (${detailType}): its triggers are ${describe(triggers)}`);
    const output = outputDetailSchema.safeParse(detail);
    if (!output.success) throw new InvocationError(`output event ${id} from ${from.outputsOf}: ${describeIssues(output.error, 'detail')}`);
    const { outputId, runId, degraded, payload, memory } = output.data;
    return { ...base, trigger: { kind: 'output', eventId: id, from: from.outputsOf, outputId, runId, degraded, payload, ...(memory ? { memory } : {}) } };
  }
  // The bus is not in the event a rule delivers: a source and type this agent runs on, from either bus, is its own.
  const matches = triggers.some((t) => 'event' in t && matchesTrigger(t, { source, detailType, bus: t.event.bus }));
  if (!matches) throw new InvocationError(`${agent.id} does not run on '${source}' events of type '${detailType}': its triggers are ${describe(triggers)}`);
  return { ...base, trigger: { kind: 'event', eventId: id, source, detailType, detail } };
}

function describe(triggers: readonly TriggerConfig[]): string {
  if (triggers.length === 0) return 'none (it runs on schedules only)';
  return triggers.map((t) => ('outputsOf' in t ? `outputs of ${t.outputsOf}` : `${t.event.source.join('|')}${t.event.detailType ? ` / ${t.event.detailType.join('|')}` : ''}`)).join(', ');
}

/**
 * The task lock id of a run: `<agent>@<slot>` for a scheduled run, the same for every delivery of that slot;
 * `<agent>@event:<event id>` for a triggered one, the same for every delivery of that event; `<agent>@replay:<task>`
 * for a replay, the same for every replay of that run (so a second replay of it runs nothing).
 */
export function taskIdOf(invocation: AgentInvocation): string {
  if (invocation.publishHeld !== undefined) return `${invocation.agentId}@publish:${invocation.publishHeld}`;
  if (invocation.replayOf !== undefined) return `${invocation.agentId}@replay:${invocation.replayOf}`;
  const trigger = invocation.trigger;
  if (trigger && trigger.kind !== 'schedule') return `${invocation.agentId}@event:${trigger.eventId}`;
  return `${invocation.agentId}@${new Date(invocation.scheduledTime).toISOString()}`;
}

/** What started a run, in words (`nightshift runs`): `schedule`, `output of planner (run-1:0)`, `event tickets/Ticket opened`. */
export function describeTrigger(trigger: Trigger | undefined, publishHeld?: string): string {
  if (publishHeld !== undefined) return `approval of held output ${publishHeld}`;
  if (!trigger || trigger.kind === 'schedule') return 'schedule';
  if (trigger.kind === 'output') return `output ${trigger.outputId} of ${trigger.from}`;
  return `event ${trigger.source} / ${trigger.detailType} (${trigger.eventId})`;
}
