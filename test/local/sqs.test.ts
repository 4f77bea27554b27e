import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalSqs } from '../../local/sqs-server.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

/** FIFO semantics the steward relies on, checked through the real AWS SDK client against the local endpoint. */
const clock = new ManualClock(Date.UTC(2026, 10, 25, 3, 0));
const sqs = new LocalSqs(clock);
await sqs.start();
afterAll(() => sqs.stop());
const client = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });

let n = 0;
let queueUrl = '';
let dlqUrl = '';
beforeEach(() => {
  n++;
  sqs.createQueues([
    { name: `dlq-${n}.fifo` },
    { name: `q-${n}.fifo`, visibilityTimeoutMs: 30_000, deadLetter: { name: `dlq-${n}.fifo`, maxReceiveCount: 3 } },
  ]);
  queueUrl = sqs.queueUrl(`q-${n}.fifo`);
  dlqUrl = sqs.queueUrl(`dlq-${n}.fifo`);
});

const send = (body: string, group: string, dedup = `${group}-${body}`) =>
  client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: dedup }));
const receive = async (url = queueUrl, max = 10) =>
  (await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: max, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];
const remove = (handle: string) => client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: handle }));

describe('local SQS FIFO queue', () => {
  it('delivers each group in send order, and nothing more of a group while one of its messages is in flight', async () => {
    await send('a1', 'A');
    await send('b1', 'B');
    await send('a2', 'A');
    const first = await receive(queueUrl, 1);
    expect(first.map((m) => m.Body)).toEqual(['a1']);
    // A is blocked by a1 in flight; B is free.
    expect((await receive()).map((m) => m.Body)).toEqual(['b1']);
    expect(await receive()).toEqual([]);
    await remove(first[0]!.ReceiptHandle!);
    expect((await receive()).map((m) => m.Body)).toEqual(['a2']);
  });

  it('returns a whole run of one group in order within a batch', async () => {
    for (const body of ['a1', 'a2', 'a3']) await send(body, 'A');
    expect((await receive()).map((m) => m.Body)).toEqual(['a1', 'a2', 'a3']);
  });

  it('numbers messages with increasing sequence numbers and returns system attributes', async () => {
    await send('a1', 'A');
    await send('a2', 'A');
    const [m1, m2] = await receive();
    expect(BigInt(m2!.Attributes!.SequenceNumber!)).toBeGreaterThan(BigInt(m1!.Attributes!.SequenceNumber!));
    expect(m1!.Attributes).toMatchObject({ MessageGroupId: 'A', MessageDeduplicationId: 'A-a1', ApproximateReceiveCount: '1' });
  });

  it('returns only the system attributes asked for', async () => {
    await send('a1', 'A');
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageSystemAttributeNames: ['MessageGroupId'] }),
    );
    expect(Messages[0]!.Attributes).toEqual({ MessageGroupId: 'A' });
  });

  it('drops a duplicate deduplication id within 5 minutes, and accepts it after', async () => {
    await send('first', 'A', 'same-id');
    const duplicate = await send('second', 'A', 'same-id');
    expect((await receive()).map((m) => m.Body)).toEqual(['first']);
    expect(duplicate.MessageId).toBeDefined();
    await clock.advance(5 * 60_000);
    await send('third', 'A', 'same-id');
    await clock.advance(30_000);
    expect((await receive()).map((m) => m.Body)).toEqual(['first', 'third']);
  });

  it('redelivers a message after its visibility timeout, with a higher receive count', async () => {
    await send('a1', 'A');
    const [first] = await receive();
    await clock.advance(29_000);
    expect(await receive()).toEqual([]);
    await clock.advance(1_000);
    const [again] = await receive();
    expect(again!.MessageId).toBe(first!.MessageId);
    expect(again!.Attributes!.ApproximateReceiveCount).toBe('2');
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: again!.ReceiptHandle, VisibilityTimeout: 0 }));
    expect(await receive()).toHaveLength(1);
  });

  it('moves a message to the DLQ after exactly maxReceiveCount receives, not one early', async () => {
    await send('poison', 'A');
    await send('next', 'A');
    for (let receiveNumber = 1; receiveNumber <= 3; receiveNumber++) {
      const [message] = await receive(queueUrl, 1);
      expect(message?.Body).toBe('poison');
      expect(message?.Attributes?.ApproximateReceiveCount).toBe(String(receiveNumber));
      expect(await receive(dlqUrl)).toEqual([]);
      await clock.advance(30_000);
    }
    expect((await receive(queueUrl, 1)).map((m) => m.Body)).toEqual(['next']);
    const dead = await receive(dlqUrl);
    expect(dead.map((m) => [m.Body, m.Attributes?.MessageGroupId])).toEqual([['poison', 'A']]);
  });

  it('reports queue depth', async () => {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ['x', 'y', 'z'].map((b, i) => ({ Id: String(i), MessageBody: b, MessageGroupId: b, MessageDeduplicationId: b })),
      }),
    );
    await receive(queueUrl, 1);
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }));
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '1' });
  });

  it('answers an unknown queue with the SDK error SQS gives', async () => {
    await expect(
      client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl('nope.fifo'), MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd' })),
    ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });
});
