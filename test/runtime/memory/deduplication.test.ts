import { ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { MemoryClient } from '../../../src/runtime/memory/client.ts';
import { messageGroupId } from '../../../src/runtime/memory/update.ts';
import { memoryQueueForTest } from '../../support/agent-env.ts';
import { update } from '../../support/memory.ts';

const memory = await memoryQueueForTest();
const sqs = new SQSClient({ endpoint: memory.sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

/**
 * Another agent may send to the memory queue (the steward judges what it may write), and can read a victim's run id
 * from items it may read. Sending first in the victim's message group with what it can guess must not make SQS drop
 * the victim's update as a duplicate: the deduplication id is not guessable from the idempotency id.
 */
describe('deduplication ids on the memory queue', () => {
  it('an attacker sending first with the victim’s idempotency id (or anything derived from the run id) does not suppress the victim’s update', async () => {
    const victimUpdate = update({ namespace: 'articles', key: 'draft-1', idempotencyId: 'run-victim:0', value: 'the real draft' });
    const group = messageGroupId('articles', 'draft-1');
    for (const guess of ['run-victim:0', 'run-victim', 'run-victim:0:0']) {
      await sqs.send(new SendMessageCommand({ QueueUrl: memory.queueUrl, MessageBody: JSON.stringify({ forged: guess }), MessageGroupId: group, MessageDeduplicationId: guess }));
    }
    const victim = new MemoryClient({ sqs, queueUrl: memory.queueUrl });
    const [sent] = await victim.submit([victimUpdate]);
    expect(sent).toMatchObject({ idempotencyId: 'run-victim:0' });
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: memory.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
      bodies.push(...Messages.map((m) => m.Body!));
      if (bodies.some((b) => b.includes('the real draft'))) break;
    }
    expect(bodies.some((b) => b.includes('the real draft'))).toBe(true);
  });

  it('a retried send of the same update from the same sender is still deduplicated', async () => {
    const sender = new MemoryClient({ sqs, queueUrl: memory.queueUrl });
    const once = update({ namespace: 'retries', key: 'k', idempotencyId: 'run-r:0', value: 1 });
    await sender.submit([once]);
    await sender.submit([once]);
    expect(memory.queue.counts().visible + memory.queue.counts().inFlight).toBeGreaterThan(0);
    const group = messageGroupId('retries', 'k');
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: memory.queueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'] }));
    expect(Messages.filter((m) => m.Attributes?.MessageGroupId === group)).toHaveLength(1);
  });
});
