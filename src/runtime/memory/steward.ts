import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { UNKNOWN_SENDER } from '../../contract/tables.ts';
import { ContentionError } from '../../errors.ts';
import type { Clock } from '../clock.ts';
import type { MetricsSink } from '../metrics.ts';
import { tokenCounter } from '../tokens.ts';
import { contextAttributes } from './context-index.ts';
import type { EntryChange } from './entry-changes.ts';
import { type Write, entryWrite, fenceWrite } from './entry-writes.ts';
import { entryKey, padSequence, unpadSequence, valueOf } from './items.ts';
import { EntryIdsCache, RECENT_IDS_HORIZON_MS, entryIds, idAttribute } from './recent-ids.ts';
import { SenderQuotas } from './sender-quotas.ts';
import type { StewardMessage, StewardResult } from './steward-message.ts';
import { StewardRecords } from './steward-records.ts';
import { InvalidUpdateError, type MemoryUpdate, messageGroupId, parseUpdate } from './update.ts';

export { REJECTED_BODY_BYTES } from './steward-records.ts';
export type { RejectionReason, StewardMessage, StewardResult } from './steward-message.ts';

/**
 * The memory steward: the single writer of shared memory. Every message ends as exactly one of
 * applied, duplicate (already applied: a no-op), or rejected with a recorded reason and the original body. Only
 * transient store errors are thrown, so the queue retries them and, after `maxReceiveCount`, dead-letters them.
 */

/** An agent as the steward knows it from the stack's wiring: the identity it sends with, what it may write. */
export interface Writer {
  readonly agentId: string;
  readonly writes: readonly string[];
  /**
   * The namespaces among `writes` whose entries this agent may pin (the config's `pinnable`): a pinned entry goes
   * first into every reader's context, so pinning is the config's to allow. @default - any it writes
   */
  readonly pins?: readonly string[];
  /**
   * The most updates the steward applies for this agent in any 60 minutes (the config's `memory.maxUpdatesPerHour`);
   * past it, each is rejected `over-quota` (recorded with its body, paged). Bounds its writes, its message groups and
   * the embeddings they cost the others. @default - no quota
   */
  readonly updatesPerHour?: number;
  /**
   * Whether the steward keeps a receipt of each of its updates (`KEYS.memory.receipts`): for an agent others run on,
   * whose runs wait for what its run queued before the output that started them. @default false
   */
  readonly receipts?: boolean;
}

export interface MemoryStewardOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: Clock;
  readonly metrics?: MetricsSink;
  /**
   * Who may write what, by sender principal (the part of SQS's `SenderId` before any `:`, a role's unique id). When
   * set, an update is applied only if its sender is a known agent, it names that agent as its `agentId`, and its
   * namespace is one that agent writes. @default - every sender may write every namespace
   */
  readonly writers?: ReadonlyMap<string, Writer>;
  /**
   * The principal (a role's unique id) of the project's own redrive, the one sender whose `OriginalSequenceNumber`
   * and `OriginalSenderId` attributes are believed. @default - none: those attributes are ignored
   */
  readonly redriver?: string;
  /**
   * Told of each live entry the steward wrote or found, without waiting: local mode's embedder takes the change from
   * here (in the cloud, the table's stream carries it to the embedder function). @default - nothing
   */
  readonly onWritten?: (change: EntryChange) => void;
  /** Told each delivery's outcome (local mode keeps its ledger by message with it). @default - none */
  readonly onOutcome?: (message: StewardMessage, result: StewardResult) => void;
}


export class MemorySteward {
  /** Per entry, the sequence and recent idempotency ids its last write here left (see `recent-ids.ts`). */
  private readonly known = new EntryIdsCache();
  private readonly quotas: SenderQuotas;
  private readonly records: StewardRecords;

  constructor(private readonly options: MemoryStewardOptions) {
    this.quotas = new SenderQuotas({ client: options.client, tableName: options.tableName, clock: options.clock });
    this.records = new StewardRecords({ client: options.client, tableName: options.tableName, clock: options.clock });
  }

  /** Parses, validates and applies one message; records a rejection. Throws only what is worth retrying. */
  async handle(received: StewardMessage): Promise<StewardResult> {
    // Its redrive attributes only if the redriver sent it: everything below (the decision, whose rejection partition
    // and receipt it lands in) reads the sender from this, never from attributes an agent can set.
    const message = this.believed(received);
    const { result, update } = await this.decide(message);
    if (result.outcome === 'rejected') await this.records.rejection(this.senderOf(message), message, result);
    const writer = this.options.writers?.get(principalOf(message.originalSenderId ?? message.senderId));
    if (update && writer?.receipts) await this.records.receipt(writer.agentId, update, result);
    this.options.onOutcome?.(received, result);
    this.options.metrics?.count(
      result.outcome === 'applied' ? 'UpdatesApplied' : result.outcome === 'duplicate' ? 'UpdatesDuplicate' : 'UpdatesRejected',
    );
    return result;
  }

  private async decide(message: StewardMessage): Promise<{ result: StewardResult; update?: MemoryUpdate }> {
    let update: MemoryUpdate;
    try {
      update = parseUpdate(JSON.parse(message.body));
    } catch (error) {
      return { result: unreadable(error) };
    }
    return { result: await this.judge(message, update), update };
  }

  /** Whether a readable update is the sender's to make, and its outcome: applied, a duplicate, or rejected. */
  private async judge(message: StewardMessage, update: MemoryUpdate): Promise<StewardResult> {
    const expectedGroup = messageGroupId(update.namespace, update.key);
    if (message.messageGroupId !== expectedGroup) {
      return {
        outcome: 'rejected',
        reason: 'wrong-message-group',
        detail: `sent in group '${message.messageGroupId}', but ${update.namespace}/${update.key} is ordered in '${expectedGroup}'`,
      };
    }
    const denied = this.authorize(message, update);
    if (denied) {
      this.options.metrics?.count('UpdatesUnauthorized');
      return denied;
    }
    const overQuota = await this.overQuota(message);
    if (overQuota) return overQuota;
    try {
      return await this.apply(update, message.originalSequenceNumber ?? message.sequenceNumber, {
        redriven: message.originalSequenceNumber !== undefined,
      });
    } catch (error) {
      // Retried through the queue: the retry takes from the quota again, so this attempt gives its share back.
      const writer = this.options.writers?.get(principalOf(message.originalSenderId ?? message.senderId));
      if (writer?.updatesPerHour !== undefined && message.originalSequenceNumber === undefined) this.quotas.giveBack(writer.agentId);
      throw error;
    }
  }

  /** The message with its redrive attributes only if the project's redrive sent it: SQS stamps `SenderId` itself. */
  private believed(message: StewardMessage): StewardMessage {
    if (message.originalSequenceNumber === undefined && message.originalSenderId === undefined) return message;
    const { redriver } = this.options;
    if (redriver !== undefined && principalOf(message.senderId) === redriver) return message;
    const { originalSequenceNumber: _sequence, originalSenderId: _sender, ...plain } = message;
    return plain;
  }

  /**
   * Checks the sender against the stack's wiring, which no agent can forge: SQS sets `SenderId` itself. A redriven
   * message is judged by the agent that first sent it, but only when its re-sender is not an agent (an operator):
   * an agent cannot borrow another's identity by setting `OriginalSenderId` itself.
   */
  private authorize(message: StewardMessage, update: MemoryUpdate): Extract<StewardResult, { outcome: 'rejected' }> | undefined {
    const { writers } = this.options;
    if (!writers) return undefined;
    // A redriven message (its attributes believed only from the redriver, see `believed`) is the first sender's.
    const writer = writers.get(principalOf(message.originalSenderId ?? message.senderId));
    if (!writer) {
      return { outcome: 'rejected', reason: 'unknown-sender', detail: `sender '${message.senderId ?? '(none)'}' is not an agent of this pipeline` };
    }
    if (update.agentId !== writer.agentId) {
      return { outcome: 'rejected', reason: 'impersonation', detail: `sent by agent '${writer.agentId}' but signed as '${update.agentId}'` };
    }
    if (!writer.writes.includes(update.namespace)) {
      return {
        outcome: 'rejected',
        reason: 'namespace-not-writable',
        detail: `agent '${writer.agentId}' may not write namespace '${update.namespace}' (it writes: ${writer.writes.join(', ') || 'nothing'})`,
      };
    }
    if ('pinned' in update && update.pinned === true && writer.pins !== undefined && !writer.pins.includes(update.namespace)) {
      return {
        outcome: 'rejected',
        reason: 'pin-not-allowed',
        detail: `agent '${writer.agentId}' may not pin entries of namespace '${update.namespace}': list it in the pipeline config's pinnable to allow house rules there`,
      };
    }
    // A fencing token counts only for the agent's own tasks: another's could fence that agent out of its own slot.
    if (update.taskId !== undefined && !update.taskId.startsWith(`${writer.agentId}@`)) {
      return { outcome: 'rejected', reason: 'foreign-task', detail: `agent '${writer.agentId}' sent a fencing token for task '${update.taskId.slice(0, 200)}', which is not one of its own` };
    }
    return undefined;
  }

  /**
   * Takes an authorized update from its sender's hourly quota. A redriven one (believed only from the redriver) is the
   * operator's decision and takes none.
   */
  private async overQuota(message: StewardMessage): Promise<Extract<StewardResult, { outcome: 'rejected' }> | undefined> {
    const writer = this.options.writers?.get(principalOf(message.originalSenderId ?? message.senderId));
    if (writer?.updatesPerHour === undefined || message.originalSequenceNumber !== undefined) return undefined;
    if (await this.quotas.take(writer.agentId, writer.updatesPerHour)) return undefined;
    return {
      outcome: 'rejected',
      reason: 'over-quota',
      detail:
        `agent '${writer.agentId}' sent more than ${writer.updatesPerHour} memory updates in the last hour (its memory.maxUpdatesPerHour): ` +
        'find what loops, or raise the quota in the pipeline config; the update is kept in this record',
    };
  }

  /**
   * Applies a validated update in exactly one store call: a conditional write whose condition is the ordering and
   * idempotency guard (`lastSequence < sequence`), or, for an update made under a lock, a two-item transaction that
   * also advances the task's fence (`highestToken <= fencingToken`).
   */
  async apply(update: MemoryUpdate, sequenceNumber: string, options: { redriven?: boolean } = {}): Promise<StewardResult> {
    const sequence = padSequence(sequenceNumber);
    const countTokens = await tokenCounter();
    const { namespace, key } = update;
    const entry = `${namespace}\u0000${key}`;
    for (let attempt = 1; ; attempt++) {
      const now = this.options.clock.now();
      const known = this.known.get(entry);
      const write = entryWrite(this.options.tableName, update, sequence, countTokens, known, now);
      const outcome = await this.send(update, sequence, write, options.redriven, attempt);
      if (outcome.retryWith) {
        // Another steward wrote this entry since this one last saw it: send the put again with what is there.
        this.known.set(entry, entryIds(outcome.retryWith));
        continue;
      }
      if (outcome.seen) this.known.set(entry, entryIds(outcome.seen));
      else this.known.forget(entry);
      // Embedded apart from the write, never in its way: the entry is found by its words until then.
      if (outcome.seen && outcome.result.outcome !== 'rejected') this.options.onWritten?.({ namespace, key, item: outcome.seen });
      if (outcome.result.outcome === 'applied') return { outcome: 'applied', namespace, key, sequence: sequenceNumber };
      return outcome.result;
    }
  }

  /**
   * Sends one entry write (in a transaction with the fence for a fenced update) and classifies what came back:
   * the result, the entry as the write left or found it (`seen`, for what this steward remembers), or an entry to
   * retry a put against (it moved on since this steward last saw it, but not past this update).
   */
  private async send(
    update: MemoryUpdate,
    sequence: string,
    write: Write,
    redriven: boolean | undefined,
    attempt: number,
  ): Promise<{ result: StewardResult; seen?: Record<string, unknown>; retryWith?: Record<string, unknown> }> {
    const { namespace, key } = update;
    const applied: StewardResult = { outcome: 'applied', namespace, key, sequence };
    let result: StewardResult | typeof STALE_KNOWLEDGE;
    let found: Record<string, unknown> | undefined;
    try {
      if (update.taskId !== undefined && update.fencingToken !== undefined) {
        await this.options.client.send(
          new TransactWriteCommand({ TransactItems: [fenceWrite(this.options.tableName, update.taskId, update.fencingToken, this.options.clock.now()), write] }),
        );
        const seen = update.op === 'merge' || update.op === 'append' ? await this.refreshContextIndex(namespace, key) : 'Put' in write ? write.Put.Item : undefined;
        return { result: applied, ...(seen ? { seen } : {}) };
      }
      if ('Put' in write) {
        await this.options.client.send(new PutCommand(write.Put));
        return { result: applied, seen: write.Put.Item };
      }
      const { Attributes } = await this.options.client.send(new UpdateCommand({ ...write.Update, ReturnValues: 'ALL_NEW' }));
      // The entry as its context index now has it: what the embedder must see (the stream carries the same).
      const seen = (await this.refreshContextIndex(namespace, key, Attributes)) ?? Attributes;
      return { result: applied, ...(seen ? { seen } : {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        found = error.Item ? unmarshall(error.Item) : undefined;
        result = this.entryConflict(update, sequence, found, redriven);
      } else if (error instanceof TransactionCanceledException) {
        const entry = error.CancellationReasons?.[1]?.Item;
        found = entry ? unmarshall(entry) : undefined;
        result = this.transactionConflict(update, sequence, error, redriven);
      } else if (isItemTooLarge(error)) {
        return { result: { outcome: 'rejected', reason: 'too-large', detail: `${namespace}/${key} would exceed DynamoDB's 400 KB item limit` } };
      } else if (isValidation(error)) {
        // DynamoDB refuses the item itself (a retry would be refused the same way): a rejection, never a throw.
        return { result: { outcome: 'rejected', reason: 'invalid-item', detail: `${namespace}/${key}: DynamoDB refused the write: ${(error as Error).message}` } };
      } else {
        throw error;
      }
    }
    if (result === STALE_KNOWLEDGE) {
      if (attempt > 1) throw new ContentionError(`${namespace}/${key} kept changing under this update; it is retried through the queue`);
      return { result: applied, retryWith: found ?? {} };
    }
    if (result.outcome === 'duplicate' && found) found = (await this.refreshContextIndex(namespace, key, found)) ?? found;
    return { result, ...(found ? { seen: found } : {}) };
  }

  /**
   * Re-stamps an entry's context-index attributes after a merge or append, whose write cannot know the whole value.
   * Conditional on the entry still being at the sequence it was read at: a newer update stamps its own. A duplicate
   * delivery calls this too, so a steward that died between the write and the stamp is healed by the redelivery.
   */
  private async refreshContextIndex(namespace: string, key: string, item?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const current =
      item ??
      (await this.options.client.send(new GetCommand({ TableName: this.options.tableName, Key: entryKey(namespace, key), ConsistentRead: true })))
        .Item;
    if (!current || current.kind === 'deleted' || current.ctxSequence === current.lastSequence) return current;
    const { ctxNamespace, ctxText, ctxTokens, ctxSequence } = contextAttributes(namespace, key, valueOf(current), current.lastSequence as string, await tokenCounter());
    try {
      await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: entryKey(namespace, key),
          UpdateExpression: 'SET ctxNamespace = :ns, ctxText = :text, ctxTokens = :tokens, ctxSequence = :seq',
          ConditionExpression: 'lastSequence = :seq',
          ExpressionAttributeValues: { ':ns': ctxNamespace, ':text': ctxText, ':tokens': ctxTokens, ':seq': ctxSequence },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return current;
    }
    return { ...current, ctxNamespace, ctxText, ctxTokens, ctxSequence };
  }

  /**
   * The entry's condition failed: this idempotency id was applied already (a duplicate, however late it came), the
   * entry is past this sequence (a duplicate, or superseded for a redriven update), the entry moved on since this
   * steward last saw it (a put to send again), or it holds the wrong kind.
   */
  private entryConflict(
    update: MemoryUpdate,
    sequence: string,
    found: Record<string, unknown> | undefined,
    redriven = false,
  ): StewardResult | typeof STALE_KNOWLEDGE {
    const current = found ?? {};
    const { namespace, key } = update;
    const appliedAt = current[idAttribute(update.idempotencyId)];
    if (typeof appliedAt === 'number' && appliedAt >= this.options.clock.now() - RECENT_IDS_HORIZON_MS) return { outcome: 'duplicate', namespace, key };
    if (typeof current.lastSequence === 'string' && current.lastSequence >= sequence) {
      if (!redriven || current.lastSequence === sequence) return { outcome: 'duplicate', namespace, key };
      return {
        outcome: 'rejected',
        reason: 'superseded',
        detail: `${namespace}/${key} moved on to sequence ${unpadSequence(current.lastSequence)} while this update (${unpadSequence(sequence)}) was dead-lettered`,
      };
    }
    if (update.op === 'put' || update.op === 'delete') return STALE_KNOWLEDGE;
    return {
      outcome: 'rejected',
      reason: 'type-mismatch',
      detail: `cannot ${update.op} into ${namespace}/${key}, which holds a ${current.kind} value`,
    };
  }

  private transactionConflict(
    update: MemoryUpdate,
    sequence: string,
    error: TransactionCanceledException,
    redriven?: boolean,
  ): StewardResult | typeof STALE_KNOWLEDGE {
    const [fence, entry] = error.CancellationReasons ?? [];
    if (entry?.Code === 'ConditionalCheckFailed') return this.entryConflict(update, sequence, entry.Item ? unmarshall(entry.Item) : undefined, redriven);
    const invalid = [fence, entry].find((reason) => reason?.Code === 'ValidationError');
    if (invalid) {
      const tooLarge = /item size.*exceeded/i.test(invalid.Message ?? '');
      return {
        outcome: 'rejected',
        reason: tooLarge ? 'too-large' : 'invalid-item',
        detail: tooLarge
          ? `${update.namespace}/${update.key} would exceed DynamoDB's 400 KB item limit`
          : `${update.namespace}/${update.key}: DynamoDB refused the write: ${invalid.Message ?? 'ValidationError'}`,
      };
    }
    if (fence?.Code === 'ConditionalCheckFailed') {
      const highest = fence.Item ? unmarshall(fence.Item).highestToken : 'unknown';
      return {
        outcome: 'rejected',
        reason: 'stale-fencing-token',
        detail: `token ${update.fencingToken} for task ${update.taskId} is older than ${highest}, already applied by a newer lock holder`,
      };
    }
    throw error; // a conflict or throttle: transient, retried through the queue
  }

  /** The agent a message came from, by its sender (a redriven one's first sender), or `unknown`. */
  private senderOf(message: StewardMessage): string {
    return this.options.writers?.get(principalOf(message.originalSenderId ?? message.senderId))?.agentId ?? UNKNOWN_SENDER;
  }

}

/**
 * Whatever the body is (not JSON, nested beyond any stack, the wrong shape), it is a rejection: never a throw, which
 * would hold up the message's group and, with it, other agents' updates behind it.
 */
function unreadable(error: unknown): Extract<StewardResult, { outcome: 'rejected' }> {
  if (error instanceof SyntaxError) return { outcome: 'rejected', reason: 'unparseable', detail: `body is not JSON: ${error.message.slice(0, 200)}` };
  if (error instanceof InvalidUpdateError) return { outcome: 'rejected', reason: 'invalid-update', detail: error.message };
  return { outcome: 'rejected', reason: 'invalid-update', detail: `body could not be read (${error instanceof Error ? error.name : 'error'}): nested too deep or too large` };
}

/** The principal of a `SenderId` (`<role id>:<session>` for an assumed role): what the stack's wiring names. */
function principalOf(senderId: string | undefined): string {
  return senderId?.split(':')[0] ?? '';
}

/** An entry condition failed only because this steward's knowledge of it was stale: send the put again. */
const STALE_KNOWLEDGE = Symbol('stale knowledge');

function isValidation(error: unknown): boolean {
  return error instanceof Error && error.name === 'ValidationException';
}

function isItemTooLarge(error: unknown): boolean {
  return (
    error instanceof Error && error.name === 'ValidationException' && /item size.*exceeded/i.test(error.message)
  );
}

/** What the steward is built on: a wiring (`Wiring`), or the same parts as the steward's handler makes them. */
export interface StewardCore {
  readonly dynamo: DynamoDBDocumentClient;
  readonly tables: { readonly memory: string };
  readonly clock: Clock;
  readonly metrics?: MetricsSink | undefined;
}

/** The memory steward over a wiring's client, memory table, clock and metrics. */
export function wireSteward(core: StewardCore, options: Pick<MemoryStewardOptions, 'writers' | 'onOutcome' | 'redriver' | 'onWritten'> = {}): MemorySteward {
  return new MemorySteward({ client: core.dynamo, tableName: core.tables.memory, clock: core.clock, ...(core.metrics ? { metrics: core.metrics } : {}), ...options });
}
