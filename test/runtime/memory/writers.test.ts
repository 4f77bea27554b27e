import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock';
import { MemoryReader } from '../../../src/runtime/memory/reader';
import { MemorySteward, type StewardMessage } from '../../../src/runtime/memory/steward';
import { CountingMetrics } from '../../../src/runtime/metrics';
import { dynamoForTest } from '../../support/dynamo';
import { delivered, freshNamespace, update } from '../../support/memory';

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
      ['AROAWRITER', { agentId: 'writer', writes: [drafts] }],
      ['AROACOMMUNITY', { agentId: 'community', writes: [posts] }],
    ]),
  });
  const reader = new MemoryReader({ client, tableName: dynamo.names.memory });
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

  it('judges a redriven message by the agent that first sent it, but never lets an agent borrow that claim', async () => {
    const { steward, drafts, from } = setup();
    const operatorRedrive = from('AIDAOPERATOR', delivered(update({ namespace: drafts, key: 'r', value: 1, agentId: 'writer' })), { originalSenderId: 'AROAWRITER:run' });
    expect((await steward.handle(operatorRedrive)).outcome).toBe('applied');
    const borrowed = from('AROACOMMUNITY:r', delivered(update({ namespace: drafts, key: 'b', value: 1, agentId: 'writer' })), { originalSenderId: 'AROAWRITER:run' });
    expect(await steward.handle(borrowed)).toMatchObject({ reason: 'impersonation' });
  });
});
