import type { BreakerRequest, BreakerResponse, BreakerTransport } from '../../src/runtime/breaker/authority.ts';
import { NightshiftError } from '../../src/errors.ts';
import { once } from '../../src/runtime/once.ts';

/**
 * How an agent asks the breaker function: a synchronous Lambda Invoke of `functionArn`, the function qualified by
 * the agent's own alias (the only one its role may invoke, and how the function knows who is asking). The Lambda
 * client is imported with the first request, so a run that emits nothing does not load it.
 */
export function lambdaBreakerTransport(functionArn: string): BreakerTransport {
  const client = once(async () => {
    const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
    return { lambda: new LambdaClient({}), InvokeCommand };
  });
  return async (request: BreakerRequest): Promise<BreakerResponse> => {
    const { lambda, InvokeCommand } = await client();
    const response = await lambda.send(new InvokeCommand({ FunctionName: functionArn, Payload: new TextEncoder().encode(JSON.stringify(request)) }));
    const payload = response.Payload ? (JSON.parse(new TextDecoder().decode(response.Payload)) as unknown) : undefined;
    if (response.FunctionError) {
      const error = payload as { errorType?: string; errorMessage?: string } | undefined;
      throw new NightshiftError(`the breaker function failed a ${request.op} request (${error?.errorType ?? response.FunctionError}): ${error?.errorMessage ?? 'no message'}`);
    }
    return payload as BreakerResponse;
  };
}
