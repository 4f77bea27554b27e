import { UsageError } from '../../errors.ts';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * Moves dead-lettered memory updates back to the steward's queue, in their groups.
 *
 * A redriven update gets a new, higher sequence number, which would let it overwrite newer state of its key. So
 * it carries its original sequence number (`OriginalSequenceNumber` message attribute) and its first sender
 * (`OriginalSenderId`), and the steward orders and authorizes it by those: if the key has moved on since, the update
 * is rejected as `superseded` (recorded, not lost). Both come from what SQS itself stamped on the dead-lettered
 * message; the same attributes on a message are carried over only when this redrive sent it (it was dead-lettered
 * again), never from an agent, and the steward believes them only from this redrive's role. Each message is
 * deleted from the DLQ only after it is in the queue; a crash in between sends it twice, which the steward treats
 * as a duplicate.
 */
export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  readonly queueUrl: string;
  /** Stop after this many messages. @default unlimited */
  readonly max?: number;
  /** The principal (role id) this redrive sends as: its own earlier redrives' attributes are carried over. */
  readonly redriver: string;
}

export interface RedriveResult {
  readonly moved: number;
  readonly messageIds: readonly string[];
}

export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveResult> {
  const { sqs, deadLetterQueueUrl, queueUrl } = options;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  const moved: string[] = [];
  while (moved.length < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, max - moved.length),
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      // A message this redrive sent before (dead-lettered again) keeps what it carried; any other keeps only what
      // SQS stamped on it.
      const again = required(message, 'SenderId').split(':')[0] === options.redriver;
      const carried = (name: 'OriginalSequenceNumber' | 'OriginalSenderId') => (again ? message.MessageAttributes?.[name]?.StringValue : undefined);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: message.Body,
          MessageGroupId: required(message, 'MessageGroupId'),
          MessageDeduplicationId: `redrive-${message.MessageId}`,
          MessageAttributes: {
            OriginalSequenceNumber: { DataType: 'String', StringValue: carried('OriginalSequenceNumber') ?? required(message, 'SequenceNumber') },
            // The steward judges it by the agent that first sent it.
            OriginalSenderId: { DataType: 'String', StringValue: carried('OriginalSenderId') ?? required(message, 'SenderId') },
          },
        }),
      );
      await sqs.send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle }));
      moved.push(message.MessageId!);
    }
  }
  return { moved: moved.length, messageIds: moved };
}

function required(message: Message, attribute: 'MessageGroupId' | 'SequenceNumber' | 'SenderId'): string {
  const value = message.Attributes?.[attribute];
  if (!value) throw new UsageError(`Dead-lettered message ${message.MessageId} has no ${attribute}: is this the FIFO DLQ?`);
  return value;
}
