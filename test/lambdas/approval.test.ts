import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { handler } from '../../lambdas/approval/handler.ts';
import { reviewVariables } from '../../src/contract/review-environment.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { HeldOutputs } from '../../src/runtime/review/held-outputs.ts';
import { LinkSigner } from '../../src/runtime/review/links.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { lambdaEndpoint } from '../support/lambda-endpoint.ts';

/**
 * The approval function's handler as its function URL calls it: the link's key from Secrets Manager (mocked: we
 * cannot run it here), the held outputs on DynamoDB Local, and the agent's publishing run behind a loopback Lambda
 * endpoint that does what the agent's run does to the held output (through the breaker function, deployed).
 */
const KEY = 'a'.repeat(64);
const secrets = mockClient(SecretsManagerClient);
let held: HeldOutputs;
let agent: Awaited<ReturnType<typeof lambdaEndpoint>>;

beforeAll(async () => {
  const dynamo = await dynamoForTest('approval-fn');
  held = new HeldOutputs({ client: DynamoDBDocumentClient.from(dynamo.client), tableName: dynamo.names.counters, clock: systemClock });
  agent = await lambdaEndpoint(async (event) => {
    const { agentId, publishHeld } = event as { agentId: string; publishHeld: string };
    if (!(await held.startPublishing(agentId, publishHeld)).ok) return { status: 'completed', taskId: 'x', outputs: [] };
    await held.finishPublishing(agentId, publishHeld, { ok: true });
    return { status: 'completed', taskId: `${agentId}@publish:${publishHeld}`, outputs: [{ published: true }] };
  });
  secrets.on(GetSecretValueCommand).resolves({ SecretString: KEY });
  const env = reviewVariables({
    counterTable: dynamo.names.counters,
    coordinationTable: dynamo.names.coordination,
    linkKeySecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:link-key',
    label: 'test (dev)',
    target: '--stage dev',
    reviews: { poster: { onExpiry: 'discard' } },
    agentFunctions: { poster: 'poster-fn' },
  });
  for (const [name, value] of Object.entries({ ...env, AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'), AWS_ENDPOINT_URL_LAMBDA: agent.endpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' })) vi.stubEnv(name, value);
});
// Files share one process (vitest `isolate: false`): the stubs must not outlive this file.
afterAll(() => {
  secrets.restore();
  vi.unstubAllEnvs();
});

const request = (method: 'GET' | 'POST', token: string): APIGatewayProxyEventV2 =>
  ({
    requestContext: { http: { method, sourceIp: '198.51.100.7' } },
    ...(method === 'GET' ? { queryStringParameters: { t: token } } : { body: Buffer.from(`t=${encodeURIComponent(token)}`).toString('base64'), isBase64Encoded: true }),
  }) as unknown as APIGatewayProxyEventV2;

describe('the approval function', () => {
  it("shows a held output on a GET, publishes it through its agent's function on the POST, once, and records the link's decision", async () => {
    const outputId = `run-${Date.now()}:0`;
    await held.hold({ agentId: 'poster', outputId, runId: 'run', via: 'post', payload: { text: 'hello' }, degraded: true, reasons: ['degraded: writer failed'], expiresAfterHours: 6, onExpiry: 'discard' });
    const output = (await held.get('poster', outputId))!;
    const token = new LinkSigner(KEY).token({ agentId: 'poster', outputId, action: 'approve', expiresAt: output.expiresAt });

    const shown = await handler(request('GET', token));
    expect(shown.statusCode).toBe(200);
    expect(shown.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    expect(shown.body).toContain('id="confirm"');
    expect(agent.invoked).toEqual([]);

    const decided = await handler(request('POST', token));
    expect(decided.statusCode).toBe(200);
    expect(decided.body).toContain('<h1>Published</h1>');
    expect(agent.invoked).toEqual(['poster-fn']);
    expect(await held.get('poster', outputId)).toMatchObject({ status: 'published', decision: { action: 'approve', by: 'approval link (198.51.100.7)' } });

    expect((await handler(request('POST', token))).statusCode).toBe(409);
    expect((await handler(request('POST', new LinkSigner('b'.repeat(64)).token({ agentId: 'poster', outputId, action: 'reject', expiresAt: output.expiresAt })))).statusCode).toBe(403);
    expect(agent.invoked).toEqual(['poster-fn']);
  });
});
