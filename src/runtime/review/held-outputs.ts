import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { KEYS, heldPartition } from '../../contract/tables.ts';
import type { Clock } from '../clock.ts';
import { conditionally } from '../conditional.ts';
import { describeIssues } from '../schema.ts';
import { UnreadableItemError } from '../agent-items.ts';

/**
 * Outputs held for a person's review, one item each on the counter table (`held#<agent>`, `<output id>`), written
 * only by trusted code: the breaker function holds an output (after counting it), a person's decision is made by the
 * operator's CLI or the approval function, and the publishing run asks the breaker function to move it on. No agent
 * role may write these items, so no agent can approve its own output or forge who decided.
 *
 *   held ──approve──▶ approved ──publishing run──▶ publishing ──▶ published | failed
 *     │──reject───▶ rejected
 *     └──expiry───▶ expired (onExpiry 'discard') | approved by expiry (onExpiry 'publish')
 *
 * Every move is one conditional write from the state before it, so of any number of racing deciders one decides,
 * and of any number of publishing runs one publishes. Expiry is part of every decision's condition (an item's TTL
 * only cleans up, 30 days after it expired, and lazily).
 */

export type HeldStatus = 'held' | 'approved' | 'rejected' | 'expired' | 'publishing' | 'published' | 'failed';

export type OnExpiry = 'discard' | 'publish';

/** How long a publishing run may take before a person may reject its output as stuck (an agent's longest run). */
export const STALE_PUBLISHING_MS = 15 * 60_000;

/** The most bytes of JSON a held output's payload may take (it is shown on the approval page and sent again). */
export const MAX_HELD_PAYLOAD_BYTES = 64 * 1024;

/** Kept this long after a held output expired, for the record; then DynamoDB's TTL removes it (lazily). */
const KEPT_AFTER_EXPIRY_MS = 30 * 24 * 60 * 60_000;

const text = (max: number) => z.string().check(z.maxLength(max));

/** Built on first use: an agent's bundle, which carries this module without reading held outputs, builds nothing. */
let schemas: ReturnType<typeof buildSchemas> | undefined;

function buildSchemas() {
  const decision = z.object({ action: z.enum(['approve', 'reject', 'expire']), by: text(300), at: z.number(), reason: z.optional(text(1_000)) });
  const held = z.object({
    agentId: text(40),
    outputId: text(300),
    runId: text(300),
    via: z.optional(text(100)),
    payloadJson: text(MAX_HELD_PAYLOAD_BYTES),
    payloadHash: text(64),
    degraded: z._default(z.boolean(), false),
    reasons: z.array(text(500)).check(z.maxLength(10)),
    heldAt: z.number(),
    expiresAt: z.number(),
    onExpiry: z.enum(['discard', 'publish']),
    status: z.enum(['held', 'approved', 'rejected', 'expired', 'publishing', 'published', 'failed']),
    decision: z.optional(decision),
    publishingAt: z.optional(z.number()),
    publishedAt: z.optional(z.number()),
    failedAt: z.optional(z.number()),
    error: z.optional(text(1_000)),
    memory: z.optional(z.object({ submitted: z.int().check(z.minimum(0), z.maximum(1_000_000)), unsent: z.array(z.int().check(z.minimum(0))).check(z.maxLength(10_000)) })),
    /** When a digest listed it (held), and when one counted its expiry. */
    digestedAt: z.optional(z.number()),
    expiryDigestedAt: z.optional(z.number()),
  });
  return { held };
}

/** A decision on a held output, as recorded with it. */
export interface Decision {
  readonly action: 'approve' | 'reject' | 'expire';
  readonly by: string;
  readonly at: number;
  readonly reason?: string | undefined;
}

type HeldItem = z.output<ReturnType<typeof buildSchemas>['held']>;

/** A held output as stored, its payload parsed. */
export interface HeldOutput extends Omit<HeldItem, 'payloadJson'> {
  readonly payload: unknown;
}

/** What is held: one output, counted and claimed, whose side effect waits for a decision. */
export interface HoldRequest {
  readonly agentId: string;
  readonly outputId: string;
  readonly runId: string;
  /** The agent's publisher that runs the side effect once approved (`publishers[via]`); none for an output without one. */
  readonly via?: string;
  readonly payload: unknown;
  readonly degraded: boolean;
  /** Why it is held, in words (`degraded: planner's heartbeat is stale`, `always`). */
  readonly reasons: readonly string[];
  readonly expiresAfterHours: number;
  readonly onExpiry: OnExpiry;
  /** The memory updates the emitting run had queued before it (see `HoldSpec.memory`). */
  readonly memory?: { readonly submitted: number; readonly unsent: readonly number[] };
}

/** Why a decision or a move was not made, with the output as it stands (when there is one). */
export type Refusal = { readonly ok: false; readonly why: 'missing' | 'expired' | 'decided' | 'not-approved' | 'not-publishing' | 'not-expired'; readonly output?: HeldOutput };

export type Moved = { readonly ok: true; readonly output: HeldOutput } | Refusal;

export class HeldOutputs {
  constructor(private readonly options: { readonly client: DynamoDBDocumentClient; readonly tableName: string; readonly clock: Clock }) {}

  /** Holds one output; false when it already is (a retried request): the first hold stands. */
  async hold(request: HoldRequest): Promise<boolean> {
    const payloadJson = JSON.stringify(request.payload) ?? 'null';
    if (Buffer.byteLength(payloadJson) > MAX_HELD_PAYLOAD_BYTES) {
      throw new RangeError(`output ${request.outputId} of ${request.agentId}: a held payload may take ${MAX_HELD_PAYLOAD_BYTES} bytes of JSON; this one takes ${Buffer.byteLength(payloadJson)}`);
    }
    const now = this.options.clock.now();
    const expiresAt = now + request.expiresAfterHours * 60 * 60_000;
    const item: HeldItem & { ttl: number } = {
      agentId: request.agentId,
      outputId: request.outputId,
      runId: request.runId,
      ...(request.via === undefined ? {} : { via: request.via }),
      payloadJson,
      payloadHash: createHash('sha256').update(payloadJson).digest('hex'),
      degraded: request.degraded,
      reasons: request.reasons.slice(0, 10).map((r) => r.slice(0, 500)),
      heldAt: now,
      expiresAt,
      onExpiry: request.onExpiry,
      ...(request.memory ? { memory: { submitted: request.memory.submitted, unsent: [...request.memory.unsent] } } : {}),
      status: 'held',
      ttl: Math.ceil((expiresAt + KEPT_AFTER_EXPIRY_MS) / 1000),
    };
    const put = await conditionally(
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...KEYS.counters.held(request.agentId, request.outputId), ...item },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    return put.ok;
  }

  async get(agentId: string, outputId: string): Promise<HeldOutput | undefined> {
    const { Item } = await this.options.client.send(new GetCommand({ TableName: this.options.tableName, Key: KEYS.counters.held(agentId, outputId), ConsistentRead: true }));
    return Item ? heldOutputOf(Item) : undefined;
  }

  /** Every held output of `agentId` (whatever its status), oldest first. */
  async list(agentId: string): Promise<HeldOutput[]> {
    const found: HeldOutput[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': heldPartition(agentId) },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) found.push(heldOutputOf(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return found.sort((a, b) => a.heldAt - b.heldAt);
  }

  /**
   * A person's decision on a held output, recorded with who and why: made while it is held and not expired. Besides,
   * a person may approve again what `failed` (its publisher threw: a retry they chose), and reject, so that nothing
   * publishes it, what failed, and what has been approved or `publishing` for longer than {@link STALE_PUBLISHING_MS}
   * without being published (its run was refused or died: whether its side effect happened is for them to check).
   */
  async decide(agentId: string, outputId: string, decision: { readonly action: 'approve' | 'reject'; readonly by: string; readonly reason?: string }): Promise<Moved> {
    const now = this.options.clock.now();
    const record: Decision = { action: decision.action, by: decision.by.slice(0, 300), at: now, ...(decision.reason ? { reason: decision.reason.slice(0, 1_000) } : {}) };
    const waiting = '(#status = :held AND expiresAt > :now)';
    const moved = await this.move(agentId, outputId, {
      set: { status: decision.action === 'approve' ? 'approved' : 'rejected', decision: record },
      condition:
        decision.action === 'approve'
          ? `(${waiting} OR #status = :failed)`
          : `(${waiting} OR #status = :failed OR (#status = :approved AND #decision.#at <= :stale) OR (#status = :publishing AND publishingAt <= :stale))`,
      values: {
        ':held': 'held',
        ':now': now,
        ':failed': 'failed',
        ...(decision.action === 'reject' ? { ':approved': 'approved', ':publishing': 'publishing', ':stale': now - STALE_PUBLISHING_MS } : {}),
      },
      ...(decision.action === 'reject' ? { names: { '#decision': 'decision', '#at': 'at' } } : {}),
    });
    if (moved.ok || moved.output === undefined) return moved;
    return { ok: false, why: moved.output.status === 'held' ? 'expired' : 'decided', output: moved.output };
  }

  /**
   * Follows `onExpiry` for a held output past its expiry: `expired` (discard), or approved by expiry (publish, as a
   * person's approval would be, by the run that publishes it). Refused while it has not expired or was decided.
   */
  async expire(agentId: string, outputId: string, onExpiry: OnExpiry): Promise<Moved> {
    const now = this.options.clock.now();
    const decision: Decision = { action: 'expire', by: 'expiry', at: now };
    const moved = await this.move(agentId, outputId, {
      set: { status: onExpiry === 'publish' ? 'approved' : 'expired', decision },
      condition: '#status = :held AND expiresAt <= :now',
      values: { ':held': 'held', ':now': now },
    });
    if (moved.ok || moved.output === undefined) return moved;
    return { ok: false, why: moved.output.status === 'held' ? 'not-expired' : 'decided', output: moved.output };
  }

  /**
   * Marks the output as listed by a digest (`digestedAt`) or its expiry as counted by one (`expiryDigestedAt`), unless
   * one did already: true for the digest that marked it. `undo` takes the mark back (the digest's page failed).
   */
  async markDigested(agentId: string, outputId: string, field: 'digestedAt' | 'expiryDigestedAt', undo = false): Promise<boolean> {
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: KEYS.counters.held(agentId, outputId),
          UpdateExpression: undo ? 'REMOVE #f' : 'SET #f = :now',
          ConditionExpression: undo ? 'attribute_exists(#f)' : 'attribute_exists(pk) AND attribute_not_exists(#f)',
          ExpressionAttributeNames: { '#f': field },
          ...(undo ? {} : { ExpressionAttributeValues: { ':now': this.options.clock.now() } }),
        }),
      ),
    );
    return result.ok;
  }

  /** The publishing run's claim: approved → publishing, once; the caller then runs the side effect. */
  async startPublishing(agentId: string, outputId: string): Promise<Moved> {
    const moved = await this.move(agentId, outputId, { set: { status: 'publishing', publishingAt: this.options.clock.now() }, condition: '#status = :approved', values: { ':approved': 'approved' } });
    return moved.ok || moved.output === undefined ? moved : { ok: false, why: 'not-approved', output: moved.output };
  }

  /** How the side effect ended: publishing → published, or failed (kept with its error, never run again by itself). */
  async finishPublishing(agentId: string, outputId: string, outcome: { readonly ok: true } | { readonly ok: false; readonly error: string }): Promise<Moved> {
    const now = this.options.clock.now();
    const moved = await this.move(agentId, outputId, {
      set: outcome.ok ? { status: 'published', publishedAt: now } : { status: 'failed', failedAt: now, error: outcome.error.slice(0, 1_000) },
      condition: '#status = :publishing',
      values: { ':publishing': 'publishing' },
    });
    return moved.ok || moved.output === undefined ? moved : { ok: false, why: 'not-publishing', output: moved.output };
  }

  private async move(
    agentId: string,
    outputId: string,
    change: { readonly set: Record<string, unknown>; readonly condition: string; readonly values: Record<string, unknown>; readonly names?: Record<string, string> },
  ): Promise<Moved | { ok: false; why: 'missing'; output?: HeldOutput }> {
    const sets = Object.entries(change.set);
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: KEYS.counters.held(agentId, outputId),
          UpdateExpression: `SET ${sets.map((_, i) => `#s${i} = :s${i}`).join(', ')}`,
          ConditionExpression: `attribute_exists(pk) AND ${change.condition}`,
          ExpressionAttributeNames: { '#status': 'status', ...change.names, ...Object.fromEntries(sets.map(([name], i) => [`#s${i}`, name])) },
          ExpressionAttributeValues: { ...change.values, ...Object.fromEntries(sets.map(([, value], i) => [`:s${i}`, value])) },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    if (result.ok) return { ok: true, output: heldOutputOf(result.value.Attributes ?? {}) };
    return result.current ? { ok: false, why: 'decided', output: heldOutputOf(result.current) } : { ok: false, why: 'missing' };
  }
}

/** A held output from its item; throws {@link UnreadableItemError} naming what is wrong. */
export function heldOutputOf(item: Record<string, unknown>): HeldOutput {
  schemas ??= buildSchemas();
  const parsed = schemas.held.safeParse(item);
  if (!parsed.success) throw new UnreadableItemError(`held output ${String(item.sk ?? '?')}: ${describeIssues(parsed.error, '(item)')}`);
  const { payloadJson, ...rest } = parsed.data;
  return { ...rest, payload: JSON.parse(payloadJson) as unknown };
}
