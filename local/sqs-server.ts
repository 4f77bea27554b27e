import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../src/runtime/clock.ts';
import { FifoQueue, QueueError, type QueueMessage } from './fifo-queue.ts';

/**
 * A local SQS endpoint speaking the AWS JSON 1.0 protocol that `@aws-sdk/client-sqs` uses, over in-memory FIFO
 * queues. Agents and the event-source poller use the real SDK client against it, exactly as in AWS.
 */

const ACCOUNT = '000000000000';
const SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
] as const;

export interface LocalQueueSpec {
  readonly name: string;
  readonly visibilityTimeoutMs?: number;
  readonly deadLetter?: { readonly name: string; readonly maxReceiveCount: number };
}

export class LocalSqs {
  private readonly queues = new Map<string, FifoQueue>();
  private server: Server | undefined;
  /** Called with each request's action, e.g. to meter usage. */
  onRequest?: (action: string) => void;
  private baseUrl = '';

  constructor(private readonly clock: Clock) {}

  /** Creates queues; dead-letter queues must be listed before the queues that use them. */
  createQueues(specs: readonly LocalQueueSpec[]): void {
    for (const spec of specs) {
      const deadLetter = spec.deadLetter
        ? { queue: this.queue(spec.deadLetter.name), maxReceiveCount: spec.deadLetter.maxReceiveCount }
        : undefined;
      this.queues.set(spec.name, new FifoQueue({ name: spec.name, clock: this.clock, visibilityTimeoutMs: spec.visibilityTimeoutMs, deadLetter }));
    }
  }

  queue(name: string): FifoQueue {
    const queue = this.queues.get(name);
    if (!queue) throw new QueueError('AWS.SimpleQueueService.NonExistentQueue', `The specified queue ${name} does not exist.`);
    return queue;
  }

  queueUrl(name: string): string {
    return `${this.baseUrl}/${ACCOUNT}/${name}`;
  }

  get endpoint(): string {
    return this.baseUrl;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((request, response) => void this.serve(request, response));
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.close();
    this.server.closeAllConnections();
    await once(this.server, 'close');
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const action = String(request.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      // SQS's SenderId is the caller's identity; locally, the access key id its requests are signed with.
      const sender = /Credential=([^/,\s]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? 'anonymous';
      this.onRequest?.(action);
      this.reply(response, 200, this.handle(action, input, sender));
    } catch (error) {
      const code = error instanceof QueueError ? error.code : 'InternalError';
      const status = error instanceof QueueError ? 400 : 500;
      response.setHeader('x-amzn-query-error', `${code};${status === 400 ? 'Sender' : 'Receiver'}`);
      this.reply(response, status, { __type: `com.amazonaws.sqs#${code}`, message: (error as Error).message });
    }
  }

  private reply(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify(body));
  }

  private queueOf(input: Record<string, unknown>): FifoQueue {
    const url = String(input.QueueUrl ?? '');
    return this.queue(url.slice(url.lastIndexOf('/') + 1));
  }

  private handle(action: string, input: Record<string, unknown>, sender: string): unknown {
    switch (action) {
      case 'GetQueueUrl':
        this.queue(String(input.QueueName));
        return { QueueUrl: this.queueUrl(String(input.QueueName)) };
      case 'SendMessage': {
        const sent = this.queueOf(input).send(sendInput(input, sender));
        return { MessageId: sent.messageId, MD5OfMessageBody: sent.md5OfBody, SequenceNumber: sent.sequenceNumber };
      }
      case 'SendMessageBatch': {
        const queue = this.queueOf(input);
        const Successful: unknown[] = [];
        const Failed: unknown[] = [];
        for (const entry of input.Entries as Record<string, unknown>[]) {
          try {
            const sent = queue.send(sendInput(entry, sender));
            Successful.push({ Id: entry.Id, MessageId: sent.messageId, MD5OfMessageBody: sent.md5OfBody, SequenceNumber: sent.sequenceNumber });
          } catch (error) {
            if (!(error instanceof QueueError)) throw error;
            Failed.push({ Id: entry.Id, Code: error.code, Message: error.message, SenderFault: true });
          }
        }
        return { Successful, Failed };
      }
      case 'ReceiveMessage': {
        const queue = this.queueOf(input);
        const visibility = input.VisibilityTimeout === undefined ? undefined : Number(input.VisibilityTimeout) * 1000;
        const messages = queue.receive(Number(input.MaxNumberOfMessages ?? 1), visibility);
        const wanted = new Set([...((input.MessageSystemAttributeNames as string[]) ?? []), ...((input.AttributeNames as string[]) ?? [])]);
        const wantedMessageAttributes = new Set((input.MessageAttributeNames as string[]) ?? []);
        return { Messages: messages.map((m) => toWire(m, wanted, wantedMessageAttributes)) };
      }
      case 'DeleteMessage':
        this.queueOf(input).delete(String(input.ReceiptHandle));
        return {};
      case 'DeleteMessageBatch': {
        const queue = this.queueOf(input);
        const Successful: unknown[] = [];
        const Failed: unknown[] = [];
        for (const entry of input.Entries as { Id: string; ReceiptHandle: string }[]) {
          try {
            queue.delete(entry.ReceiptHandle);
            Successful.push({ Id: entry.Id });
          } catch (error) {
            if (!(error instanceof QueueError)) throw error;
            Failed.push({ Id: entry.Id, Code: error.code, Message: error.message, SenderFault: true });
          }
        }
        return { Successful, Failed };
      }
      case 'ChangeMessageVisibility':
        this.queueOf(input).changeVisibility(String(input.ReceiptHandle), Number(input.VisibilityTimeout) * 1000);
        return {};
      case 'GetQueueAttributes': {
        const { visible, inFlight } = this.queueOf(input).counts();
        return {
          Attributes: {
            ApproximateNumberOfMessages: String(visible),
            ApproximateNumberOfMessagesNotVisible: String(inFlight),
            FifoQueue: 'true',
          },
        };
      }
      case 'PurgeQueue':
        this.queueOf(input).purge();
        return {};
      default:
        throw new QueueError('UnsupportedOperation', `The local SQS does not implement ${action || '(no action)'}`);
    }
  }
}

function sendInput(input: Record<string, unknown>, senderId: string) {
  return {
    senderId,
    body: String(input.MessageBody ?? ''),
    groupId: String(input.MessageGroupId ?? ''),
    deduplicationId: String(input.MessageDeduplicationId ?? ''),
    attributes: (input.MessageAttributes as QueueMessage['attributes']) ?? {},
  };
}

function toWire(message: QueueMessage, wanted: Set<string>, wantedMessageAttributes: Set<string>) {
  const all = wanted.has('All');
  const system: Record<string, string> = {
    SenderId: message.senderId,
    SentTimestamp: String(message.sentAt),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
    SequenceNumber: message.sequenceNumber,
    MessageDeduplicationId: message.deduplicationId,
    MessageGroupId: message.groupId,
  };
  const Attributes = Object.fromEntries(SYSTEM_ATTRIBUTES.filter((n) => all || wanted.has(n)).map((n) => [n, system[n]!]));
  const MessageAttributes = Object.fromEntries(
    Object.entries(message.attributes).filter(([name]) => wantedMessageAttributes.has('All') || wantedMessageAttributes.has(name)),
  );
  return {
    MessageId: message.messageId,
    ReceiptHandle: message.receiptHandle,
    MD5OfBody: message.md5OfBody,
    Body: message.body,
    Attributes,
    ...(Object.keys(MessageAttributes).length ? { MessageAttributes } : {}),
  };
}
