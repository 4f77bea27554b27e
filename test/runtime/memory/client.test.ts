import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryClient, SubmitError, planBatches } from '../../../src/runtime/memory/client.ts';
import { redriveDeadLetters } from '../../../src/runtime/memory/redrive.ts';
import { InvalidUpdateError, MAX_MESSAGE_BYTES, type MemoryUpdate } from '../../../src/runtime/memory/update.ts';
import { update } from '../../support/memory.ts';

const sqsMock = mockClient(SQSClient);
// Files share one process (vitest `isolate: false`): the stubbed client must not outlive this file.
afterAll(() => sqsMock.restore());
const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/memory.fifo';
const client = () => new MemoryClient({ sqs: new SQSClient({}), queueUrl });

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageBatchCommand).callsFake((input) => ({
    Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id, MessageId: `m-${e.Id}`, SequenceNumber: '1' })),
    Failed: [],
  }));
});

function sentEntries() {
  return sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries ?? []);
}

describe('memory client', () => {
  it('sends one message group per memory key, with a deduplication id nobody else can predict from the idempotency id', async () => {
    const sender = client();
    await sender.submit([update({ namespace: 'articles', key: 'draft-1', idempotencyId: 'run-1:0', value: 'x' })]);
    const [entry] = sentEntries()[0]!;
    expect(entry).toEqual(expect.objectContaining({ MessageGroupId: 'articles/draft-1', MessageDeduplicationId: sender.deduplicationId('run-1:0') }));
    expect(entry!.MessageDeduplicationId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(entry!.MessageDeduplicationId).not.toContain('run-1');
    expect(client().deduplicationId('run-1:0')).not.toBe(entry!.MessageDeduplicationId); // another sender's differs
  });

  it('batches 10 a call and keeps each key in order across batches', async () => {
    const updates = Array.from({ length: 25 }, (_, i) => update({ namespace: 'n', key: `k${i % 5}`, value: i }));
    await client().submit(updates);
    const batches = sentEntries();
    expect(batches.every((b) => b.length <= 10)).toBe(true);
    expect(batches.flat()).toHaveLength(25);
    for (const batch of batches) expect(new Set(batch.map((e) => e.MessageGroupId)).size).toBe(batch.length);
    const sentOrderOfK0 = batches.flat().filter((e) => e.MessageGroupId === 'n/k0').map((e) => JSON.parse(e.MessageBody!).value);
    expect(sentOrderOfK0).toEqual([0, 5, 10, 15, 20]);
  });

  it('keeps a batch under 256 KiB in total', () => {
    const big = { body: 'x'.repeat(100 * 1024), group: '' };
    const batches = planBatches(Array.from({ length: 5 }, (_, i) => ({ ...big, group: `g${i}` })));
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
  });

  it('refuses an update over 256 KiB before sending anything', async () => {
    const huge = update({ namespace: 'n', key: 'k', value: 'x'.repeat(MAX_MESSAGE_BYTES) });
    const submit = client().submit([update({ namespace: 'n', key: 'ok' }), huge]);
    await expect(submit).rejects.toBeInstanceOf(InvalidUpdateError);
    await expect(submit).rejects.toThrow(/is \d+ bytes; SQS takes at most 262144/);
    expect(sentEntries()).toEqual([]);
  });

  it('refuses an invalid update and names the field', async () => {
    await expect(client().submit([update({ namespace: 'Bad NS', key: 'k' })])).rejects.toThrow(
      'namespace: must be 1-63 lowercase letters, digits, dashes or underscores, starting with a letter',
    );
  });

  it('refuses a value with an undefined field, naming the entry, the path and undefined, and what to do, before sending anything', async () => {
    const submit = client().submit([
      update({ namespace: 'notes', key: 'ok', value: 1 }),
      update({ namespace: 'headlines', key: '2026-12-06', value: [{ title: 'Fencing', summary: undefined }] }),
    ]);
    await expect(submit).rejects.toBeInstanceOf(InvalidUpdateError);
    await expect(submit).rejects.toThrow(
      'memory update of headlines/2026-12-06: value[0].summary is undefined, which JSON cannot carry: leave the field out, or set it to null',
    );
    expect(sentEntries()).toEqual([]);
    // An item of a list, or the whole value, can only be null or gone.
    await expect(client().submit([update({ op: 'append', namespace: 'notes', key: 'k', value: [1, undefined] })])).rejects.toThrow('value[1] is undefined, which JSON cannot carry: use null, or remove the item');
    await expect(client().submit([update({ namespace: 'notes', key: 'k', value: undefined })])).rejects.toThrow('value is undefined, which JSON cannot carry: use null, or delete the entry');
    // A merge's field, NaN, and a function are named the same way.
    await expect(client().submit([update({ op: 'merge', namespace: 'notes', key: 'k', value: { a: undefined } })])).rejects.toThrow('memory update of notes/k: value.a is undefined');
    await expect(client().submit([update({ namespace: 'notes', key: 'k', value: { n: Number.NaN } })])).rejects.toThrow('value.n is NaN, which JSON cannot carry');
    await expect(client().submit([update({ namespace: 'notes', key: 'k', value: { f: () => 1 } })])).rejects.toThrow('value.f is a function, which JSON cannot carry');
  });

  it('retries entries that failed on the service side', async () => {
    let calls = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake((input) => {
      calls++;
      const [first, ...rest] = input.Entries as { Id: string }[];
      if (calls === 1) {
        return {
          Successful: rest.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })),
          Failed: [{ Id: first!.Id, Code: 'InternalError', SenderFault: false }],
        };
      }
      return { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id, MessageId: 'retried' })), Failed: [] };
    });
    const sent = await client().submit([update({ namespace: 'n', key: 'a' }), update({ namespace: 'n', key: 'b' })]);
    expect(sent).toHaveLength(2);
    expect(sentEntries().map((b) => b.length)).toEqual([2, 1]);
  });

  it('reports exactly which updates are not queued when an entry keeps failing, and sends no later update', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input) => {
      const entries = input.Entries as { Id: string; MessageGroupId: string }[];
      return {
        Successful: entries.filter((e) => e.MessageGroupId !== 'n/a').map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })),
        Failed: entries.filter((e) => e.MessageGroupId === 'n/a').map((e) => ({ Id: e.Id, Code: 'KmsThrottled', SenderFault: false })),
      };
    });
    const updates: MemoryUpdate[] = [
      update({ namespace: 'n', key: 'a', idempotencyId: 'a1' }),
      update({ namespace: 'n', key: 'b', idempotencyId: 'b1' }),
      update({ namespace: 'n', key: 'a', idempotencyId: 'a2' }),
    ];
    const error = await client().submit(updates).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SubmitError);
    expect((error as SubmitError).sent.map((s) => s.idempotencyId)).toEqual(['b1']);
    expect((error as SubmitError).unsent.map((u) => [u.update.idempotencyId, u.reason])).toEqual([
      ['a1', 'KmsThrottled'],
      ['a2', 'not sent: an earlier update failed'],
    ]);
    expect(sentEntries()).toHaveLength(3); // the first batch three times; a2's batch never
  });
});

describe('dead-letter redrive', () => {
  it('moves messages back in their groups with what SQS stamped on them, carrying over only its own earlier attributes, deleting each after it is sent', async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'd1', Body: '{"a":1}', ReceiptHandle: 'r1', Attributes: { MessageGroupId: 'n/a', SequenceNumber: '111', SenderId: 'AROAWRITER:run' } },
          {
            MessageId: 'd2',
            Body: '{"b":1}',
            ReceiptHandle: 'r2',
            // Redriven before, and dead-lettered again: what this redrive carried stays.
            Attributes: { MessageGroupId: 'n/b', SequenceNumber: '999', SenderId: 'AROAREDRIVE:fn' },
            MessageAttributes: {
              OriginalSequenceNumber: { DataType: 'String', StringValue: '222' },
              OriginalSenderId: { DataType: 'String', StringValue: 'AROASEO:run' },
            },
          },
          {
            // An agent that set the attributes itself (to freeze a key, or to pose as another): they are dropped.
            MessageId: 'd3',
            Body: '{"c":1}',
            ReceiptHandle: 'r3',
            Attributes: { MessageGroupId: 'n/c', SequenceNumber: '333', SenderId: 'AROAWRITER:run' },
            MessageAttributes: {
              OriginalSequenceNumber: { DataType: 'String', StringValue: '9'.repeat(40) },
              OriginalSenderId: { DataType: 'String', StringValue: 'AROASEO:run' },
            },
          },
        ],
      })
      .resolves({ Messages: [] });
    const result = await redriveDeadLetters({ sqs: new SQSClient({}), deadLetterQueueUrl: 'dlq', queueUrl, redriver: 'AROAREDRIVE' });
    expect(result).toEqual({ moved: 3, messageIds: ['d1', 'd2', 'd3'] });
    const sends = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sends.map((s) => [s.MessageGroupId, s.MessageAttributes?.OriginalSequenceNumber?.StringValue])).toEqual([
      ['n/a', '111'],
      ['n/b', '222'],
      ['n/c', '333'],
    ]);
    // Each carries the agent that first sent it, never the redrive re-sending it, nor what an agent claimed.
    expect(sends.map((s) => s.MessageAttributes?.OriginalSenderId?.StringValue)).toEqual(['AROAWRITER:run', 'AROASEO:run', 'AROAWRITER:run']);
    expect(sqsMock.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual(['r1', 'r2', 'r3']);
  });

  it('keeps a message in the DLQ when sending it back fails', async () => {
    sqsMock.on(ReceiveMessageCommand).resolves({
      Messages: [{ MessageId: 'd1', Body: '{}', ReceiptHandle: 'r1', Attributes: { MessageGroupId: 'g', SequenceNumber: '1', SenderId: 'AROAWRITER:run' } }],
    });
    sqsMock.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    await expect(redriveDeadLetters({ sqs: new SQSClient({}), deadLetterQueueUrl: 'dlq', queueUrl, redriver: 'AROAREDRIVE' })).rejects.toThrow('AccessDenied');
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });
});
