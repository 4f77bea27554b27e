import { SQSClient } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryClient } from '../../../src/runtime/memory/client.ts';
import { REJECTED_BODY_BYTES } from '../../../src/runtime/memory/steward.ts';
import { InvalidUpdateError } from '../../../src/runtime/memory/update.ts';
import { dynamoForTest } from '../../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../../support/memory.ts';

/**
 * Whatever a message holds, the steward applies it exactly or rejects it with a reason: it throws only for what a
 * retry could fix. The memory client refuses, at submit time and with the same reason, what the steward would.
 */
const dynamo = await dynamoForTest('permanent');

const unstorable: [string, unknown, RegExp][] = [
  ['an integer past 2^53', { n: 1e20 }, /value\.n: 100000000000000000000 is an integer past 2\^53/],
  ['a number outside DynamoDB\'s range', { n: 1e300 }, /value\.n: 1e\+300 is outside the numbers DynamoDB stores/],
  ['nesting deeper than DynamoDB allows', JSON.parse(`{"a":${'['.repeat(40)}${']'.repeat(40)}}`), /nests deeper than 31 levels/],
  ['a __proto__ key', JSON.parse('{"__proto__":{"polluted":true},"ok":1}'), /the key '__proto__' cannot be stored/],
];

describe('the steward and permanent errors', () => {
  for (const [what, value, reason] of unstorable) {
    it(`rejects ${what} with its reason, on the plain and the fenced path, and the client refuses it before sending`, async () => {
      const { steward, reader } = memory(dynamo);
      const namespace = freshNamespace();
      for (const fenced of [{}, { taskId: `t-${namespace}`, fencingToken: 1 }]) {
        const result = await steward.handle(delivered(update({ namespace, key: 'k', value, ...fenced })));
        expect(result).toMatchObject({ outcome: 'rejected', reason: 'invalid-update', detail: expect.stringMatching(reason) });
      }
      expect(await reader.get(namespace, 'k')).toBeUndefined();
      const client = new MemoryClient({ sqs: new SQSClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1' }), queueUrl: 'http://127.0.0.1:9/q.fifo' });
      await expect(client.submit([update({ namespace, key: 'k', value })])).rejects.toThrow(InvalidUpdateError);
      await expect(client.submit([update({ namespace, key: 'k', value })])).rejects.toThrow(reason);
    });
  }

  it('rejects an append past 400 KB on the fenced (transaction) path too, instead of throwing', async () => {
    const { steward, reader } = memory(dynamo);
    const namespace = freshNamespace();
    const chunk = 'x'.repeat(220 * 1024);
    const fenced = { taskId: `t-${namespace}`, fencingToken: 1 };
    expect(await steward.handle(delivered(update({ namespace, key: 'big', op: 'append', value: [chunk], ...fenced })))).toMatchObject({ outcome: 'applied' });
    expect(await steward.handle(delivered(update({ namespace, key: 'big', op: 'append', value: [chunk], ...fenced })))).toMatchObject({ outcome: 'rejected', reason: 'too-large' });
    expect(await steward.handle(delivered(update({ namespace, key: 'big', op: 'merge', value: { more: chunk }, ...fenced })))).toMatchObject({ outcome: 'rejected' });
    expect(((await reader.get(namespace, 'big'))?.value as string[]).length).toBe(1);
  });

  it('keeps a rejection record that always fits: a bounded prefix of the body, its size and its hash', async () => {
    const { steward, reader } = memory(dynamo);
    const body = `${freshNamespace()} ${'z'.repeat(250 * 1024)}`; // not JSON, and near SQS's 256 KiB
    expect(await steward.handle(delivered(body))).toMatchObject({ outcome: 'rejected', reason: 'unparseable' });
    const record = (await reader.rejections()).find((r) => r.body.startsWith(body.slice(0, 12)))!;
    expect(Buffer.byteLength(record.body)).toBeLessThanOrEqual(REJECTED_BODY_BYTES);
    expect(record).toMatchObject({ bodyBytes: Buffer.byteLength(body), bodySha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('applies any JSON value exactly or rejects it with a reason, and never throws (property)', async () => {
    const { steward, reader } = memory(dynamo);
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 40 }), fc.constantFrom('put', 'append', 'merge'), async (value, op) => {
        const namespace = freshNamespace();
        const shaped = op === 'append' ? [value] : op === 'merge' ? { field: value } : value;
        const sent = JSON.parse(JSON.stringify(update({ namespace, key: 'k', op, value: shaped } as Parameters<typeof update>[0])));
        const result = await steward.handle(delivered(JSON.stringify(sent)));
        if (result.outcome === 'applied') expect((await reader.get(namespace, 'k'))?.value).toEqual(sent.value);
        else expect(result).toMatchObject({ outcome: 'rejected', reason: expect.any(String), detail: expect.any(String) });
      }),
      { numRuns: 150, seed: 11 },
    );
  });
});
