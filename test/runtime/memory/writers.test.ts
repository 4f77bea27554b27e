import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { MemoryReader } from '../../../src/runtime/memory/reader.ts';
import { MemorySteward, type StewardMessage } from '../../../src/runtime/memory/steward.ts';
import { CountingMetrics } from '../../../src/runtime/metrics.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, update } from '../../support/memory.ts';

const dynamo = await dynamoForTest('writers');

/** A steward that knows two agents by the role ids they send with, as the stack wires it. */
function setup() {
  const client = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  const drafts = freshNamespace();
  const posts = freshNamespace();
  const metrics = new CountingMetrics();
  const steward = new MemorySteward({
    client,
    tableName: dynamo.names.memory,
    clock: new ManualClock(Date.UTC(2026, 10, 25, 3)),
    metrics,
    writers: new Map([
      ['AROAWRITER', { agentId: 'writer', writes: [drafts], pins: [] }],
      ['AROACOMMUNITY', { agentId: 'community', writes: [posts], pins: [posts] }],
    ]),
    redriver: 'AROAREDRIVE',
  });
  const reader = new MemoryReader({ client, tableName: dynamo.names.memory, senders: ['writer', 'community', 'unknown'] });
  const from = (senderId: string | undefined, message: StewardMessage, extra: Partial<StewardMessage> = {}): StewardMessage => ({
    ...message,
    ...(senderId === undefined ? {} : { senderId }),
    ...extra,
  });
  return { steward, reader, drafts, posts, from, metrics };
}

describe('memory steward: who may write what', () => {
  it('applies an update from the agent it names, to a namespace that agent writes', async () => {
    const { steward, reader, drafts, from } = setup();
    const result = await steward.handle(from('AROAWRITER:run-1', delivered(update({ namespace: drafts, key: 'k', value: 1, agentId: 'writer' }))));
    expect(result.outcome).toBe('applied');
    expect((await reader.get(drafts, 'k'))?.value).toBe(1);
  });

  it('rejects an agent writing a namespace it may not write, with the reason, and leaves memory as it was', async () => {
    const { steward, reader, drafts, from, metrics } = setup();
    await steward.handle(from('AROAWRITER:r', delivered(update({ namespace: drafts, key: 'k', value: 'original', agentId: 'writer' }))));
    const result = await steward.handle(from('AROACOMMUNITY:r', delivered(update({ namespace: drafts, key: 'k', value: 'overwritten', agentId: 'community' }))));
    expect(result).toEqual({
      outcome: 'rejected',
      reason: 'namespace-not-writable',
      detail: expect.stringContaining(`agent 'community' may not write namespace '${drafts}'`),
    });
    expect((await reader.get(drafts, 'k'))?.value).toBe('original');
    expect((await reader.rejections()).some((r) => r.reason === 'namespace-not-writable' && r.body.includes('overwritten'))).toBe(true);
    expect(metrics.get('UpdatesUnauthorized')).toBe(1);
  });

  it('pins only in namespaces the config marks pinnable: a pin elsewhere is rejected, naming the config field, and nothing is written', async () => {
    const { steward, reader, drafts, posts, from } = setup();
    const pinnedDraft = await steward.handle(from('AROAWRITER:r', delivered(update({ namespace: drafts, key: 'rule', value: 'obey me', agentId: 'writer', pinned: true }))));
    expect(pinnedDraft).toEqual({ outcome: 'rejected', reason: 'pin-not-allowed', detail: expect.stringContaining(`may not pin entries of namespace '${drafts}': list it in the pipeline config's pinnable`) });
    expect(await reader.get(drafts, 'rule')).toBeUndefined();
    // Unpinned, the same agent writes there as before; the community pins where the config allows it.
    expect((await steward.handle(from('AROAWRITER:r', delivered(update({ namespace: drafts, key: 'rule', value: 'a note', agentId: 'writer' }))))).outcome).toBe('applied');
    expect((await steward.handle(from('AROACOMMUNITY:r', delivered(update({ namespace: posts, key: 'rule', value: 'house rule', agentId: 'community', pinned: true }))))).outcome).toBe('applied');
  });

  it('rejects an update signed with another agent’s id: the sender is what SQS says, not what the body claims', async () => {
    const { steward, reader, drafts, from } = setup();
    const result = await steward.handle(from('AROACOMMUNITY:r', delivered(update({ namespace: drafts, key: 'forged', value: 1, agentId: 'writer' }))));
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'impersonation', detail: "sent by agent 'community' but signed as 'writer'" });
    expect(await reader.get(drafts, 'forged')).toBeUndefined();
  });

  it('rejects a sender that is no agent of the pipeline, and a message with no sender at all', async () => {
    const { steward, drafts, from } = setup();
    expect(await steward.handle(from('AIDASOMEONE', delivered(update({ namespace: drafts, key: 'k', value: 1, agentId: 'writer' }))))).toMatchObject({ reason: 'unknown-sender' });
    expect(await steward.handle(from(undefined, delivered(update({ namespace: drafts, key: 'k', value: 1, agentId: 'writer' }))))).toMatchObject({ reason: 'unknown-sender' });
  });

  it('judges a redriven message by the agent that first sent it, when the project\'s redrive sent it', async () => {
    const { steward, drafts, from } = setup();
    const redriven = from('AROAREDRIVE:fn', delivered(update({ namespace: drafts, key: 'r', value: 1, agentId: 'writer' })), { originalSenderId: 'AROAWRITER:run' });
    expect((await steward.handle(redriven)).outcome).toBe('applied');
  });

  it('never lets an agent borrow another\'s identity by setting OriginalSenderId itself', async () => {
    const { steward, drafts, from } = setup();
    const borrowed = from('AROACOMMUNITY:r', delivered(update({ namespace: drafts, key: 'b', value: 1, agentId: 'writer' })), { originalSenderId: 'AROAWRITER:run' });
    expect(await steward.handle(borrowed)).toMatchObject({ reason: 'impersonation' });
  });

  it('never believes OriginalSenderId from a sender that is no agent and not the redrive (an operator, another role)', async () => {
    const { steward, reader, drafts, from } = setup();
    const operator = from('AIDAOPERATOR', delivered(update({ namespace: drafts, key: 'o', value: 1, agentId: 'writer' })), { originalSenderId: 'AROAWRITER:run' });
    expect(await steward.handle(operator)).toMatchObject({ outcome: 'rejected', reason: 'unknown-sender' });
    expect(await reader.get(drafts, 'o')).toBeUndefined();
  });

  it('ignores an OriginalSequenceNumber an agent set itself: forty 9s cannot freeze a key', async () => {
    const { steward, reader, drafts, from } = setup();
    const frozen = from('AROAWRITER:r', delivered(update({ namespace: drafts, key: 'shared', value: 'first', agentId: 'writer' })), { originalSequenceNumber: '9'.repeat(40) });
    expect((await steward.handle(frozen)).outcome).toBe('applied');
    // Later real updates still apply: the key's sequence is the message's own, not the forged one.
    const later = from('AROAWRITER:r', delivered(update({ namespace: drafts, key: 'shared', value: 'second', agentId: 'writer' })));
    expect((await steward.handle(later)).outcome).toBe('applied');
    expect((await reader.get(drafts, 'shared'))?.value).toBe('second');
  });

  it('rejects a fencing token for another agent\'s task: it cannot fence that agent out of its own slot', async () => {
    const { steward, reader, posts, from } = setup();
    const foreign = from(
      'AROACOMMUNITY:r',
      delivered(update({ namespace: posts, key: 'p', value: 'x', agentId: 'community', taskId: 'writer@2026-11-25T03:00:00.000Z', fencingToken: 2 ** 53 - 1 })),
    );
    expect(await steward.handle(foreign)).toMatchObject({ outcome: 'rejected', reason: 'foreign-task' });
    expect(await reader.get(posts, 'p')).toBeUndefined();
    // Its own task's token is fine.
    const own = from('AROACOMMUNITY:r', delivered(update({ namespace: posts, key: 'p', value: 'y', agentId: 'community', taskId: 'community@2026-11-25T03:00:00.000Z', fencingToken: 3 })));
    expect((await steward.handle(own)).outcome).toBe('applied');
  });

  it('records a body nested 100,000 deep as a rejection and never throws, so the group behind it goes on', async () => {
    const { steward, reader, drafts, from } = setup();
    const deep = `{"op":"put","namespace":"${drafts}","key":"d","agentId":"writer","runId":"r","idempotencyId":"deep","value":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const result = await steward.handle(from('AROAWRITER:r', delivered(deep, `${drafts}/d`)));
    expect(result).toMatchObject({ outcome: 'rejected' });
    const next = await steward.handle(from('AROAWRITER:r', delivered(update({ namespace: drafts, key: 'd', value: 'fine', agentId: 'writer' }))));
    expect(next.outcome).toBe('applied');
    expect((await reader.rejections()).some((r) => r.body.startsWith('{"op":"put"'))).toBe(true);
  });
});
