import { SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

const logger = new Logger({ serviceName: 'steward' });
const processor = new SqsFifoPartialProcessorAsync();

async function applyRecord(record: SQSRecord): Promise<void> {
  const update: unknown = JSON.parse(record.body);
  logger.info('update received', {
    messageId: record.messageId,
    messageGroupId: record.attributes.MessageGroupId,
    sequenceNumber: record.attributes.SequenceNumber,
    update,
  });
}

/**
 * The memory steward: the only writer of shared memory. Powertools' FIFO processor keeps per-group order on partial
 * failure (a failed record fails the rest of its group in the batch, so they are retried in order).
 */
export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, applyRecord, processor, { context, skipGroupOnError: true });
