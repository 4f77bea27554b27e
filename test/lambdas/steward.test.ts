import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handler } from '../../lambdas/steward/handler';
import { sqsEvent, sqsFifoRecord } from '../support/events';

const context = { functionName: 'steward', awsRequestId: 'test', getRemainingTimeInMillis: () => 30_000 } as Context;

describe('steward handler', () => {
  it('accepts a batch of well-formed updates', async () => {
    const event = sqsEvent([sqsFifoRecord('{"key":"a"}', 'g1'), sqsFifoRecord('{"key":"b"}', 'g2')]);
    expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
  });

  it('fails the rest of a group after a failed record, in order, and applies other groups', async () => {
    const a1 = sqsFifoRecord('{"key":"a1"}', 'A');
    const a2 = sqsFifoRecord('not json', 'A');
    const b1 = sqsFifoRecord('{"key":"b1"}', 'B');
    const a3 = sqsFifoRecord('{"key":"a3"}', 'A');
    const b2 = sqsFifoRecord('{"key":"b2"}', 'B');
    const response = await handler(sqsEvent([a1, a2, b1, a3, b2]), context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([a2.messageId, a3.messageId]);
  });
});
