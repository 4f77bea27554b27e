import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * What Lambda's SQS event source mapping does, on this machine: receive a batch, hand the handler a real `SQSEvent`,
 * delete what succeeded, and leave what the partial batch response reported as failed to reappear after the
 * visibility timeout (and, past `maxReceiveCount`, move to the dead-letter queue).
 */
export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly batchSize: number;
  readonly handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
}

export class SqsEventSource {
  constructor(private readonly options: EventSourceOptions) {}

  /** One poll: returns how many records the handler got and how many it reported as failed. */
  async pollOnce(): Promise<{ received: number; failed: number }> {
    const { sqs, queueUrl, batchSize, handler } = this.options;
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return { received: 0, failed: 0 };
    const response = await handler({ Records: Messages.map((m) => this.toRecord(m)) }, localContext());
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    const done = Messages.filter((m) => !failed.has(m.MessageId!));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    return { received: Messages.length, failed: failed.size };
  }

  /** Polls until a poll receives nothing (failed records stay invisible until their timeout). */
  async drain(): Promise<{ received: number; failed: number }> {
    const total = { received: 0, failed: 0 };
    for (;;) {
      const poll = await this.pollOnce();
      if (poll.received === 0) return total;
      total.received += poll.received;
      total.failed += poll.failed;
    }
  }

  private toRecord(message: Message): SQSRecord {
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId!,
      receiptHandle: message.ReceiptHandle!,
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
        SentTimestamp: attributes.SentTimestamp ?? '0',
        SenderId: attributes.SenderId ?? 'local',
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '0',
        SequenceNumber: attributes.SequenceNumber,
        MessageGroupId: attributes.MessageGroupId,
        MessageDeduplicationId: attributes.MessageDeduplicationId,
      },
      messageAttributes: Object.fromEntries(
        Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
          name,
          { dataType: value.DataType ?? 'String', stringValue: value.StringValue, stringListValues: [], binaryListValues: [] },
        ]),
      ),
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.options.queueArn,
      awsRegion: 'local',
    };
  }
}

function localContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'steward',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:steward',
    memoryLimitInMB: '512',
    awsRequestId: `local-${randomUUID()}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
