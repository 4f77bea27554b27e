import { conditionally } from '../conditional.ts';
import { KEYS } from '../../contract/tables.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../clock.ts';

/**
 * Output accounting on the counter table, in as few store calls as exactness allows.
 *
 * Sliding window: outputs are counted in one-minute buckets, kept as attributes of one item per scope:
 * `n_<epoch>_<minute>` holds the minute's count (an atomic `ADD`) and `i_<epoch>_<minute>` the ids counted in it.
 * The pipeline's buckets live on the breaker's own item (see `Breaker.countOutput`), so one conditional update both
 * checks that the breaker admits the output and counts it; an agent's buckets and its published-content claims live
 * on `pk = outputs#<agent>`, `sk = window`, counted and claimed in one update. With the breaker function's own count
 * of the caller (`VerifiedCounts`), an output costs three store calls.
 *
 * The window is the sum of the current minute's bucket and the M-1 before it, so it reaches back between M-1 and M
 * minutes: an output is forgotten up to one minute early, never late. The epoch changes on every breaker reset, so
 * a reset starts every window empty. Each update returns the whole item as it left it, and updates to one item are
 * applied one at a time, so concurrent emitters each see a distinct total: exactly N of them are within a limit N.
 *
 * Buckets that left their window and expired claims are removed by the next counting update itself (each process
 * remembers what the last response showed as stale), so clean-up costs no call and the item holds little more than
 * what is live: the window's buckets and ids, and a claim (about 100 bytes) per distinct content published within
 * the duplicate window. DynamoDB bills a write by the item's size, so outputs per window and distinct contents per
 * duplicate window set what an output costs.
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Stale attributes one update removes at most (the expression stays small; the rest go with the next). */
export const REMOVE_AT_MOST = 40;

export interface WindowCount {
  readonly count: number;
  /** Ids of the outputs counted in the window, oldest minute first. */
  readonly outputIds: readonly string[];
}

/** The current minute (minutes since the epoch of the clock). */
export function minuteOf(now: number): number {
  return Math.floor(now / MINUTE);
}

/** The attribute names of a scope's bucket for `minute` in counting epoch `epoch`. */
export function bucketNames(epoch: number, minute: number): { count: string; ids: string } {
  return { count: `n_${epoch}_${minute}`, ids: `i_${epoch}_${minute}` };
}

const BUCKET = /^([ni])_(\d+)_(\d+)$/;

/**
 * The window of `windowMinutes` ending at `minute`, summed from an item's buckets of `epoch`, with any bucket ahead
 * of `minute` (written by an emitter whose clock runs ahead), so skewed clocks never let an output past N.
 */
export function windowOf(item: Record<string, unknown>, epoch: number, minute: number, windowMinutes: number): WindowCount {
  const buckets: { minute: number; count: number; ids: string[] }[] = [];
  for (const [name, value] of Object.entries(item)) {
    const match = BUCKET.exec(name);
    if (match?.[1] !== 'n' || Number(match[2]) !== epoch) continue;
    const at = Number(match[3]);
    // A bucket ahead of this clock was written by an emitter whose clock runs ahead: its outputs count too.
    if (at <= minute - windowMinutes) continue;
    buckets.push({ minute: at, count: value as number, ids: [...((item[`i_${epoch}_${at}`] as Set<string> | undefined) ?? [])] });
  }
  buckets.sort((a, b) => a.minute - b.minute);
  return { count: buckets.reduce((sum, b) => sum + b.count, 0), outputIds: buckets.flatMap((b) => b.ids) };
}

/** Bucket attributes of an item that no window can count again: another epoch, or older than the window. */
export function staleBuckets(item: Record<string, unknown>, epoch: number, minute: number, windowMinutes: number): string[] {
  return Object.keys(item).filter((name) => {
    const match = BUCKET.exec(name);
    return match !== null && (Number(match[2]) !== epoch || Number(match[3]) <= minute - windowMinutes);
  });
}

/** A `REMOVE` clause for `names` (as `#r0, #r1, …`), or nothing. */
export function removeClause(names: readonly string[]): { clause: string; names: Record<string, string> } {
  if (names.length === 0) return { clause: '', names: {} };
  return { clause: ` REMOVE ${names.map((_, i) => `#r${i}`).join(', ')}`, names: Object.fromEntries(names.map((name, i) => [`#r${i}`, name])) };
}

/**
 * Adds one (or `by`) to the current minute's bucket of a counting item (`n_<epoch>_<minute>`, an atomic `ADD`), with `set`'s
 * attributes beside it, in the same update removing up to {@link REMOVE_AT_MOST} of the buckets the caller's last
 * count saw as `stale`. Returns the item as the update left it, for `windowOf` and `staleBuckets`.
 */
export async function countInMinute(
  client: DynamoDBDocumentClient,
  target: { readonly tableName: string; readonly key: Record<string, unknown> },
  count: { readonly epoch: number; readonly now: number; readonly stale: readonly string[]; readonly set?: Readonly<Record<string, unknown>>; readonly by?: number },
): Promise<Record<string, unknown>> {
  const bucket = bucketNames(count.epoch, minuteOf(count.now));
  const remove = removeClause(count.stale.filter((name) => name !== bucket.count).slice(0, REMOVE_AT_MOST));
  const set = Object.entries(count.set ?? {});
  const { Attributes = {} } = await client.send(
    new UpdateCommand({
      TableName: target.tableName,
      Key: target.key,
      UpdateExpression: `ADD #n :one${set.length ? ` SET ${set.map((_, i) => `#s${i} = :s${i}`).join(', ')}` : ''}${remove.clause}`,
      ExpressionAttributeNames: { '#n': bucket.count, ...Object.fromEntries(set.map(([name], i) => [`#s${i}`, name])), ...remove.names },
      ExpressionAttributeValues: { ':one': count.by ?? 1, ...Object.fromEntries(set.map(([, value], i) => [`:s${i}`, value])) },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return Attributes;
}

/** What counting one output in an agent's window found. */
export interface AgentCount extends WindowCount {
  /** False when the agent published the same content within its duplicate window. */
  readonly claimed: boolean;
  /**
   * This output's place among every output the agent ever counted: strictly increasing in the order the counting
   * updates were applied (a trip records the tripping output's, see {@link Trip.outputSequence}).
   */
  readonly sequence: number;
  /** Gives the content claim back (when the output is refused or its publish failed); a no-op if not claimed. */
  readonly release: () => Promise<void>;
}

export class OutputWindows {
  /** Per agent, what its item's last response showed as stale: removed by the next count. */
  private readonly stale = new Map<string, { buckets: string[]; claims: Map<string, string> }>();

  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string; clock: Clock }) {}

  /**
   * Counts one output in the agent's window of epoch `epoch` and, in the same update, claims its content hash
   * unless the agent published the same content within `duplicateWindowMinutes`, and removes what was stale. One
   * store call; a second only when the content's earlier claim has expired and must be taken over (conditionally,
   * so one emitter wins), or when a claim it meant to remove was taken again meanwhile.
   */
  async count(
    agentId: string,
    epoch: number,
    outputId: string,
    windowMinutes: number,
    content: { hash: string; duplicateWindowMinutes: number },
  ): Promise<AgentCount> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    const minute = minuteOf(now);
    const bucket = bucketNames(epoch, minute);
    const claimName = `c_${content.hash.slice(0, 32)}`;
    const mine = `${now}|${randomUUID()}`;
    const target = { TableName: tableName, Key: KEYS.counters.outputs(agentId) };
    const update = async (prune: boolean) => {
      const stale = prune ? this.stale.get(agentId) : undefined;
      const buckets = (stale?.buckets ?? []).filter((name) => name !== bucket.count && name !== bucket.ids);
      const claims = [...(stale?.claims ?? [])].filter(([name]) => name !== claimName);
      const remove = removeClause([...buckets, ...claims.map(([name]) => name)].slice(0, REMOVE_AT_MOST));
      // An expired claim is removed only if it is still the one seen: another emitter may have taken it again.
      const guarded = claims.filter(([name]) => Object.values(remove.names).includes(name));
      const { Attributes } = await client.send(
        new UpdateCommand({
          ...target,
          UpdateExpression: `ADD #n :one, #i :id, #seq :one SET #c = if_not_exists(#c, :mine)${remove.clause}`,
          ExpressionAttributeNames: { '#n': bucket.count, '#i': bucket.ids, '#c': claimName, '#seq': 'sequence', ...remove.names },
          ExpressionAttributeValues: { ':one': 1, ':id': new Set([outputId]), ':mine': mine, ...Object.fromEntries(guarded.map(([, value], i) => [`:g${i}`, value])) },
          ...(guarded.length
            ? { ConditionExpression: guarded.map(([name], i) => `#r${Object.values(remove.names).indexOf(name)} = :g${i}`).join(' AND ') }
            : {}),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ?? {};
    };
    let item: Record<string, unknown>;
    try {
      item = await update(true);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      item = await update(false);
    }
    const cutoff = now - content.duplicateWindowMinutes * MINUTE;
    let claim = item[claimName] as string;
    if (claim !== mine && claimedAt(claim) <= cutoff) {
      // The same content was published, but before the window: take the expired claim over, one emitter wins.
      claim = (await this.replaceClaim(target, claimName, claim, mine)) ? mine : claim;
    }
    this.stale.set(agentId, {
      buckets: staleBuckets(item, epoch, minute, windowMinutes),
      claims: new Map(
        Object.entries(item).filter(
          (entry): entry is [string, string] => entry[0].startsWith('c_') && entry[0] !== claimName && claimedAt(entry[1] as string) <= cutoff,
        ),
      ),
    });
    const claimed = claim === mine;
    return {
      ...windowOf(item, epoch, minute, windowMinutes),
      sequence: item.sequence as number,
      claimed,
      release: async () => {
        if (claimed) await this.releaseClaim(target, claimName, mine);
      },
    };
  }

  private async replaceClaim(target: { TableName: string; Key: Record<string, unknown> }, name: string, old: string, mine: string): Promise<boolean> {
    const result = await conditionally(
      this.options.client.send(
        new UpdateCommand({
          ...target,
          UpdateExpression: 'SET #c = :mine',
          ConditionExpression: '#c = :old',
          ExpressionAttributeNames: { '#c': name },
          ExpressionAttributeValues: { ':mine': mine, ':old': old },
        }),
      ),
    );
    return result.ok;
  }

  private async releaseClaim(target: { TableName: string; Key: Record<string, unknown> }, name: string, mine: string): Promise<void> {
    // Not ours any more (taken over after it expired): nothing to release.
    await conditionally(
      this.options.client.send(
        new UpdateCommand({
          ...target,
          UpdateExpression: 'REMOVE #c',
          ConditionExpression: '#c = :mine',
          ExpressionAttributeNames: { '#c': name },
          ExpressionAttributeValues: { ':mine': mine },
        }),
      ),
    );
  }

  /**
   * Counts one run an outside-event trigger starts, in minute buckets on `events#<agent>` (that trigger's item), and
   * returns the count over the last `windowMinutes` including it. One store call; stale buckets go with the next.
   */
  async countEvent(agentId: string, triggerIndex: number, windowMinutes = 60): Promise<number> {
    const { client, tableName, clock } = this.options;
    const now = clock.now();
    const staleKey = `events#${agentId}#${triggerIndex}`;
    const item = await countInMinute(
      client,
      { tableName, key: KEYS.counters.events(agentId, triggerIndex) },
      { epoch: 0, now, stale: this.stale.get(staleKey)?.buckets ?? [], set: { ttl: Math.ceil((now + DAY) / 1000) } },
    );
    this.stale.set(staleKey, { buckets: staleBuckets(item, 0, minuteOf(now), windowMinutes), claims: new Map() });
    return windowOf(item, 0, minuteOf(now), windowMinutes).count;
  }

  /**
   * Adds model tokens to the agent's spend for a UTC day (today unless `day` is given; it may be negative, to
   * settle a reservation); returns the day's total.
   */
  async addTokens(agentId: string, tokens: number, day = this.today()): Promise<number> {
    const { Attributes } = await this.options.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: tokensKey(agentId, day),
        UpdateExpression: 'ADD used :tokens SET #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':tokens': tokens, ':ttl': this.tokensTtl() },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Attributes?.used as number;
  }

  /**
   * Reserves `tokens` of today's budget in one conditional write: added only if the day's spend stays within
   * `budget`, so concurrent runs cannot both pass a check and overspend together. Settle the reservation with
   * {@link addTokens}(actual − reserved, reservation.day) once the real usage is known.
   */
  async reserveTokens(agentId: string, tokens: number, budget: number): Promise<{ reserved: true; day: string; used: number } | { reserved: false; day: string; used: number }> {
    const day = this.today();
    try {
      const { Attributes } = await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: tokensKey(agentId, day),
          UpdateExpression: 'ADD used :tokens SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':tokens': tokens, ':room': budget - tokens, ':ttl': this.tokensTtl() },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { reserved: true, day, used: Attributes?.used as number };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { reserved: false, day, used: Number(error.Item?.used?.N ?? 0) };
    }
  }

  private today(): string {
    return new Date(this.options.clock.now()).toISOString().slice(0, 10);
  }

  private tokensTtl(): number {
    return Math.ceil((this.options.clock.now() + 8 * DAY) / 1000);
  }
}

const tokensKey = KEYS.counters.tokens;

/** When a content claim (`<epoch ms>|<uuid>`) was taken. */
function claimedAt(claim: string): number {
  return Number(claim.slice(0, claim.indexOf('|')));
}
