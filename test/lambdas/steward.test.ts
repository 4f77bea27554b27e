import type { Context, SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createStewardHandler } from '../../lambdas/steward/handler.ts';
import { messageGroupId } from '../../src/runtime/memory/update.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { sqsEvent, sqsFifoRecord } from '../support/events.ts';
import { freshNamespace, memory, update } from '../support/memory.ts';

const dynamo = await dynamoForTest('steward-handler');
const context = { functionName: 'steward', awsRequestId: 'test', getRemainingTimeInMillis: () => 30_000 } as Context;

function record(namespace: string, key: string, value: unknown): SQSRecord {
  return sqsFifoRecord(JSON.stringify(update({ namespace, key, op: 'append', value: [value] })), messageGroupId(namespace, key));
}

describe('steward handler (Powertools batch processor, ordered per message group)', () => {
  it('applies a batch and reports no failures', async () => {
    const { steward, reader } = memory(dynamo);
    const handler = createStewardHandler(() => steward);
    const namespace = freshNamespace();
    const response = await handler(sqsEvent([record(namespace, 'a', 1), record(namespace, 'b', 2), record(namespace, 'a', 3)]), context);
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await reader.get(namespace, 'a'))?.value).toEqual([1, 3]);
  });

  it('fails the rest of group A after a failing record, in order, while group B is applied', async () => {
    const { steward, reader, client } = memory(dynamo);
    const handler = createStewardHandler(() => steward);
    const namespace = freshNamespace();
    const [a1, a2, b1, a3, b2] = [
      record(namespace, 'a', 1),
      record(namespace, 'a', 2),
      record(namespace, 'b', 10),
      record(namespace, 'a', 3),
      record(namespace, 'b', 20),
    ];
    const send = client.send.bind(client);
    const throttle = vi.spyOn(client, 'send').mockImplementation(async (command) => {
      if (JSON.stringify(command.input).includes('":items":[2]')) {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      return send(command);
    });
    const response = await handler(sqsEvent([a1!, a2!, b1!, a3!, b2!]), context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([a2!.messageId, a3!.messageId]);
    expect((await reader.get(namespace, 'a'))?.value).toEqual([1]);
    expect((await reader.get(namespace, 'b'))?.value).toEqual([10, 20]);

    // SQS redelivers a2 and a3 to the same warm instance: both must be applied now, in order.
    throttle.mockRestore();
    const retry = await handler(sqsEvent([{ ...a2!, attributes: { ...a2!.attributes, ApproximateReceiveCount: '2' } }, a3!]), context);
    expect(retry).toEqual({ batchItemFailures: [] });
    expect((await reader.get(namespace, 'a'))?.value).toEqual([1, 2, 3]);
  });

  it('acknowledges 20 malformed messages as recorded rejections, so none is retried forever', async () => {
    const { steward, reader } = memory(dynamo);
    const handler = createStewardHandler(() => steward);
    const tag = freshNamespace();
    const records = Array.from({ length: 20 }, (_, i) => sqsFifoRecord(`${tag} garbage ${i}`, `g${i % 3}`));
    const first = await handler(sqsEvent(records.slice(0, 10)), context);
    const second = await handler(sqsEvent(records.slice(10)), context);
    expect([...first.batchItemFailures, ...second.batchItemFailures]).toEqual([]);
    const rejections = (await reader.rejections()).filter((r) => r.body.startsWith(tag));
    expect(rejections).toHaveLength(20);
    expect(rejections.every((r) => r.reason === 'unparseable')).toBe(true);
  });

  it('applies different groups at the same time and one group in order', async () => {
    const { steward, reader, client } = memory(dynamo);
    const handler = createStewardHandler(() => steward);
    const namespace = freshNamespace();
    const send = client.send.bind(client);
    let inFlight = 0;
    let most = 0;
    vi.spyOn(client, 'send').mockImplementation(async (command) => {
      most = Math.max(most, ++inFlight);
      try {
        return await send(command);
      } finally {
        inFlight--;
      }
    });
    const records = Array.from({ length: 10 }, (_, i) => record(namespace, `k${i % 5}`, i));
    expect(await handler(sqsEvent(records), context)).toEqual({ batchItemFailures: [] });
    vi.restoreAllMocks();
    expect(most).toBeGreaterThan(1);
    for (let k = 0; k < 5; k++) expect((await reader.get(namespace, `k${k}`))?.value).toEqual([k, k + 5]);
  });

  it('applies, per group, exactly the records before its first failure and fails the rest (property)', async () => {
    const { steward, reader, client } = memory(dynamo);
    const handler = createStewardHandler(() => steward);
    const send = client.send.bind(client);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ group: fc.integer({ min: 0, max: 3 }), fails: fc.boolean() }), { minLength: 1, maxLength: 10 }),
        async (batch) => {
          const namespace = freshNamespace();
          const records = batch.map((b, i) => record(namespace, `g${b.group}`, b.fails ? -i - 1 : i));
          vi.spyOn(client, 'send').mockImplementation(async (command) => {
            if (/":items":\[-\d+\]/.test(JSON.stringify(command.input))) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
            return send(command);
          });
          const response = await handler(sqsEvent(records), context);
          vi.restoreAllMocks();
          const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
          for (let group = 0; group < 4; group++) {
            const mine = batch.map((b, i) => ({ ...b, i })).filter((b) => b.group === group);
            const firstFailure = mine.findIndex((b) => b.fails);
            const applied = firstFailure === -1 ? mine : mine.slice(0, firstFailure);
            const value = (await reader.get(namespace, `g${group}`))?.value;
            expect(value ?? []).toEqual(applied.map((b) => b.i));
            for (const b of mine) expect(failed.has(records[b.i]!.messageId)).toBe(firstFailure !== -1 && mine.indexOf(b) >= firstFailure);
          }
        },
      ),
      { numRuns: 40, seed: 3 },
    );
  });
});
