import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/pager-forwarder/handler.ts';

const ssm = mockClient(SSMClient);
// Files share one process (vitest `isolate: false`): the stubbed client must not outlive this file.
afterAll(() => {
  ssm.restore();
  vi.unstubAllEnvs();
});
const received: { body: unknown; headers: Record<string, unknown> }[] = [];
let answer = 202;
let parameterNumber = 0;
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: request.headers });
    response.writeHead(answer).end();
  });
});
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
afterAll(() => server.close());
// A plain-HTTP receiver stands in for the pager; the forwarder insists on https:// for what it reads from SSM.
const pagerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/integration/KEY123`;

const alert = (subject: string): SNSEvent => ({
  Records: [
    {
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:alerts:sub',
      Sns: {
        Type: 'Notification',
        MessageId: `m-${subject}`,
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts',
        Subject: subject,
        Message: 'Pipeline nightshift (dev) was halted by its circuit breaker.',
        Timestamp: '2026-11-25T03:01:50.000Z',
        SignatureVersion: '1',
        Signature: '',
        SigningCertUrl: '',
        UnsubscribeUrl: '',
        MessageAttributes: {},
      },
    },
  ],
});

beforeEach(() => {
  received.length = 0;
  answer = 202;
  ssm.reset();
  // Each test its own parameter: the forwarder caches what it read for five minutes, as it should.
  vi.stubEnv('PAGER_WEBHOOK_PARAMETER', `/nightshift/test/pager-${++parameterNumber}`);
});

describe('pager forwarder', () => {
  it('reads the webhook from SSM, decrypted, at run time and posts the alert to it', async () => {
    // Prepare: the receiver is plain HTTP here, so the stored URL's scheme is rewritten for the test only.
    ssm.on(GetParameterCommand, { Name: process.env.PAGER_WEBHOOK_PARAMETER, WithDecryption: true }).resolves({ Parameter: { Value: pagerUrl.replace('http://', 'https://') } });
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation((url, init) => realFetch(String(url).replace("https://", "http://"), init));
    // Act
    await handler(alert('circuit breaker OPEN'));
    fetchSpy.mockRestore();
    // Assess
    expect(received).toEqual([
      {
        body: { subject: 'circuit breaker OPEN', message: 'Pipeline nightshift (dev) was halted by its circuit breaker.', topicArn: 'arn:aws:sns:us-east-1:123456789012:alerts', timestamp: '2026-11-25T03:01:50.000Z', messageId: 'm-circuit breaker OPEN' },
        headers: expect.objectContaining({ 'content-type': 'application/json' }),
      },
    ]);
  });

  it('throws when the pager refuses, so Lambda retries the delivery and then records it as failed', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: pagerUrl.replace('http://', 'https://') } });
    answer = 503;
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation((url, init) => realFetch(String(url).replace('https://', 'http://'), init));
    await expect(handler(alert('again'))).rejects.toThrow(/^pager webhook at host 127\.0\.0\.1:\d+ answered 503 for alert m-again$/);
    fetchSpy.mockRestore();
  });

  it('refuses a parameter that does not hold an https:// URL, without posting anywhere', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: pagerUrl } });
    await expect(handler(alert('plain'))).rejects.toThrow(`SSM parameter ${process.env.PAGER_WEBHOOK_PARAMETER} must hold an https:// webhook URL`);
    expect(received).toEqual([]);
  });

  it.each([
    ['not a URL at all', 'hxxps//events.pagerduty.com/v2/enqueue?key=SECRET-KEY-123'],
    ['an URL whose fetch fails', 'https://[::1]:1/integration/SECRET-KEY-123'],
  ])('never puts the webhook (its key) into an error or a log: %s', async (_, value) => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: value } });
    const logged: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (logged.push(String(chunk)), true));
    const error = await handler(alert('secret')).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    write.mockRestore();
    expect(error).toBeInstanceOf(Error);
    expect(`${error!.message} ${error!.stack} ${String((error as { cause?: unknown }).cause ?? '')} ${logged.join('')}`).not.toContain('SECRET-KEY-123');
  });
});

const realFetch = globalThis.fetch.bind(globalThis);
