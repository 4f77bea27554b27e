import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { afterAll } from 'vitest';

/**
 * Lambda's Invoke API on loopback, for `AWS_ENDPOINT_URL_LAMBDA`: every invocation runs `handler` in this process,
 * with the context's `invokedFunctionArn` set to the FunctionName the caller invoked (qualified by its alias), as
 * Lambda does. A thrown error comes back as Lambda reports one: `X-Amz-Function-Error` and the error as the payload.
 * Stands in for the service we cannot run here; the handler is the real one.
 */
export async function lambdaEndpoint(handler: (event: unknown, context: Context) => Promise<unknown>) {
  const invoked: string[] = [];
  const server = createServer(async (request, response) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (!match) {
      response.writeHead(404).end();
      return;
    }
    const functionArn = decodeURIComponent(match[1]!);
    invoked.push(functionArn);
    try {
      const result = await handler(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'), { invokedFunctionArn: functionArn, awsRequestId: `test-${invoked.length}` } as Context);
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result ?? null));
    } catch (error) {
      const failed = error as Error;
      response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' }).end(JSON.stringify({ errorType: failed.name, errorMessage: failed.message }));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, invoked };
}
