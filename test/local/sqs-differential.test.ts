import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSqs } from '../../local/sqs-server.ts';
import { systemClock } from '../../src/runtime/clock.ts';

/**
 * The local SQS against an SQS implementation nobody here wrote (`local-aws-sqs`), both on the real clock, through
 * the real SDK client: the same FIFO scenarios must give the same observable results — order within a group, a
 * group held while a message of it is in flight, deduplication, the visibility timeout, dead-lettering, and the
 * attributes the steward reads.
 */
interface Sqs {
  readonly name: string;
  readonly client: SQSClient;
  queue(name: string): Promise<string>;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'local-agent', secretAccessKey: 'local' };
let counter = 0;

async function ours(): Promise<Sqs> {
  const sqs = new LocalSqs(systemClock);
  await sqs.start();
  return {
    name: 'nightshift local SQS',
    client: new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials }),
    async queue(name) {
      sqs.createQueues([{ name: `${name}-dlq.fifo` }, { name: `${name}.fifo`, visibilityTimeoutMs: 30_000, deadLetter: { name: `${name}-dlq.fifo`, maxReceiveCount: 2 } }]);
      return sqs.queueUrl(`${name}.fifo`);
    },
    stop: () => sqs.stop(),
  };
}

async function theirs(): Promise<Sqs> {
  const server = await createSqsServer({ port: 0, hostname: '127.0.0.1' });
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  const client = new SQSClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1', credentials });
  return {
    name: 'local-aws-sqs',
    client,
    async queue(name) {
      const fifo = { FifoQueue: 'true', VisibilityTimeout: '30' };
      const dlq = await client.send(new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: fifo }));
      const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
      const main = await client.send(
        new CreateQueueCommand({ QueueName: `${name}.fifo`, Attributes: { ...fifo, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) } }),
      );
      return main.QueueUrl!;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const send = (sqs: Sqs, QueueUrl: string, body: string, group: string, dedup = body) =>
  sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: dedup }));

const receive = async (sqs: Sqs, QueueUrl: string, max = 10, visibility?: number): Promise<Message[]> =>
  (
    await sqs.client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        AttributeNames: ['All'],
        ...(visibility === undefined ? {} : { VisibilityTimeout: visibility }),
      }),
    )
  ).Messages ?? [];

/** Each scenario returns what a client can observe; both implementations must observe the same. */
const scenarios: Record<string, (sqs: Sqs) => Promise<unknown>> = {
  async 'order within each group, groups interleaved'(sqs) {
    const url = await sqs.queue(`order-${++counter}`);
    for (let i = 0; i < 6; i++) await send(sqs, url, `${i % 2 ? 'b' : 'a'}${i}`, i % 2 ? 'B' : 'A');
    const bodies: string[] = [];
    for (let round = 0; round < 6 && bodies.length < 6; round++) {
      for (const m of await receive(sqs, url)) {
        bodies.push(m.Body!);
        await sqs.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
    return { a: bodies.filter((b) => b.startsWith('a')), b: bodies.filter((b) => b.startsWith('b')) };
  },
  async 'a group is held while one of its messages is in flight'(sqs) {
    const url = await sqs.queue(`held-${++counter}`);
    await send(sqs, url, 'a1', 'A');
    await send(sqs, url, 'a2', 'A');
    await send(sqs, url, 'b1', 'B');
    const first = await receive(sqs, url, 1);
    const next = await receive(sqs, url, 10);
    return { first: first.map((m) => m.Body), whileInFlight: next.map((m) => m.Body).sort() };
  },
  async 'a repeated deduplication id is delivered once'(sqs) {
    const url = await sqs.queue(`dedup-${++counter}`);
    const one = await send(sqs, url, 'same', 'A', 'id-1');
    const two = await send(sqs, url, 'same again', 'A', 'id-1');
    const messages = await receive(sqs, url);
    return { bodies: messages.map((m) => m.Body), sameSequence: one.SequenceNumber === two.SequenceNumber };
  },
  async 'an undeleted message comes back after its visibility timeout, counted'(sqs) {
    const url = await sqs.queue(`visibility-${++counter}`);
    await send(sqs, url, 'x', 'A');
    // Two seconds of invisibility: the check right after holds even on a loaded machine.
    const first = await receive(sqs, url, 1, 2);
    const hidden = await receive(sqs, url, 1);
    await sleep(2_200);
    const again = await receive(sqs, url, 1, 2);
    return {
      first: first.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount]),
      hidden: hidden.length,
      again: again.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount]),
    };
  },
  async 'a message received maxReceiveCount times moves to the dead-letter queue'(sqs) {
    const name = `dlq-${++counter}`;
    const url = await sqs.queue(name);
    const dlqUrl = url.replace(`${name}.fifo`, `${name}-dlq.fifo`);
    await send(sqs, url, 'poison', 'A');
    const deliveries: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const m of await receive(sqs, url, 1, 1)) deliveries.push(m.Attributes!.ApproximateReceiveCount!);
      await sleep(1_100);
    }
    const dead = await receive(sqs, dlqUrl, 10);
    return { deliveries, dead: dead.map((m) => m.Body) };
  },
  async 'the attributes the steward reads'(sqs) {
    const url = await sqs.queue(`attributes-${++counter}`);
    const sent = [await send(sqs, url, 'one', 'drafts/index'), await send(sqs, url, 'two', 'drafts/index')];
    const [m1, m2] = [...(await receive(sqs, url, 1)), ...[]];
    await sqs.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m1!.ReceiptHandle! }));
    const second = (await receive(sqs, url, 1))[0] ?? m2;
    const a = m1!.Attributes!;
    return {
      group: a.MessageGroupId,
      receiveCount: a.ApproximateReceiveCount,
      sequenceIsDigits: /^\d+$/.test(a.SequenceNumber ?? ''),
      sequenceMatchesSend: a.SequenceNumber === sent[0]!.SequenceNumber,
      sequencesIncrease: BigInt(second!.Attributes!.SequenceNumber!) > BigInt(a.SequenceNumber!),
      sentTimestampIsMs: Math.abs(Number(a.SentTimestamp) - Date.now()) < 60_000,
      hasSenderId: typeof a.SenderId === 'string' && a.SenderId.length > 0,
    };
  },
};

/**
 * "When you receive a message with a message group ID, no more messages for the same message group ID are returned
 * unless you delete the message or it becomes visible" (Amazon SQS Developer Guide, FIFO queue logic).
 * local-aws-sqs 2.0.2 returns the group's next message anyway.
 */
const DOCUMENTED: Record<string, { documented: unknown; reference: unknown }> = {
  'a group is held while one of its messages is in flight': {
    documented: { first: ['a1'], whileInFlight: ['b1'] },
    reference: { first: ['a1'], whileInFlight: ['a2', 'b1'] },
  },
};

describe('the local SQS, differentially against local-aws-sqs', () => {
  const implementations: Sqs[] = [];
  beforeAll(async () => {
    implementations.push(await ours(), await theirs());
  });
  afterAll(async () => {
    for (const sqs of implementations) await sqs.stop();
  });

  for (const [name, scenario] of Object.entries(scenarios)) {
    if (name in DOCUMENTED) continue;
    it(`observes the same: ${name}`, async () => {
      const [mine, reference] = [await scenario(implementations[0]!), await scenario(implementations[1]!)];
      expect(mine).toEqual(reference);
    });
  }

  // Where local-aws-sqs departs from AWS's documented FIFO behaviour, ours is held to the documentation.
  for (const [name, { documented, reference }] of Object.entries(DOCUMENTED)) {
    it(`follows the AWS documentation where local-aws-sqs does not: ${name}`, async () => {
      expect(await scenarios[name]!(implementations[0]!)).toEqual(documented);
      expect(await scenarios[name]!(implementations[1]!)).toEqual(reference);
    });
  }
});
