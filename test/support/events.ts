import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

/** The target input EventBridge Scheduler sends an agent, with its context attributes filled in. */
export function schedulerInvocation(agentId: string, scheduledTime = '2026-11-25T03:00:00Z', attemptNumber = 0) {
  return {
    agentId,
    scheduledTime,
    scheduleArn: `arn:aws:scheduler:us-east-1:123456789012:schedule/nightshift-dev/${agentId}-0`,
    attemptNumber: String(attemptNumber),
  };
}

let sequence = 18_000_000_000_000_000_000n;

/** An SQS FIFO record as Lambda's event source delivers it. */
export function sqsFifoRecord(body: string, messageGroupId: string): SQSRecord {
  sequence += 1n;
  return {
    messageId: randomUUID(),
    receiptHandle: `handle-${randomUUID()}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1764039600000',
      SenderId: 'AROAEXAMPLE:agent',
      ApproximateFirstReceiveTimestamp: '1764039600001',
      SequenceNumber: sequence.toString(),
      MessageGroupId: messageGroupId,
      MessageDeduplicationId: randomUUID(),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:nightshift-memory.fifo',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}
