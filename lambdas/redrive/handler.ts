import { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import { parseRedriveEnvironment } from '../../src/contract/environment.ts';
import { type RedriveResult, redriveDeadLetters } from '../../src/runtime/memory/redrive.ts';

const sqs = new SQSClient({});
const request = z.object({ max: z.optional(z.int().check(z.positive(), z.maximum(10_000))) });

/**
 * Moves dead-lettered memory updates back to the steward's queue. The operator invokes it (`nightshift dlq redrive`):
 * its role is the one sender whose redrive attributes the steward believes, so no agent can pose as a redrive.
 */
export const handler = async (event: unknown): Promise<RedriveResult> => {
  const { max } = request.parse(event ?? {});
  const env = parseRedriveEnvironment();
  return redriveDeadLetters({ sqs, queueUrl: env.memoryQueueUrl, deadLetterQueueUrl: env.deadLetterQueueUrl, redriver: env.redriver, ...(max === undefined ? {} : { max }) });
};
