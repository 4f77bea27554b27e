import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ReviewEnvironment } from '../../src/contract/review-environment.ts';
import { readBreakerState } from '../../src/runtime/breaker/breaker-state.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import type { PublishOutcome, ReviewDeps } from '../../src/runtime/review/decisions.ts';
import { HeldOutputs } from '../../src/runtime/review/held-outputs.ts';
import { LinkSigner } from '../../src/runtime/review/links.ts';

/** One Lambda client per sandbox, made with the first publishing run. */
let lambda: LambdaClient | undefined;

/**
 * Decisions as the approval function and the watch make them deployed: the held outputs and the breaker's state on
 * the counter table, and an approved output's publishing run started by invoking its agent's function (and waited for).
 */
export function deployedReview(
  env: Pick<ReviewEnvironment, 'counterTable' | 'agentFunctions'>,
  client: DynamoDBDocumentClient,
  clock: Clock,
  options: { readonly wait?: boolean } = {},
): ReviewDeps {
  const wait = options.wait ?? true;
  return {
    held: new HeldOutputs({ client, tableName: env.counterTable, clock }),
    breakerState: () => readBreakerState(client, env.counterTable),
    publish: async (agentId, outputId): Promise<PublishOutcome> => {
      const functionName = env.agentFunctions[agentId];
      if (!functionName) return { status: 'failed', detail: `no function for ${agentId}` };
      const event = { agentId, scheduledTime: new Date(clock.now()).toISOString(), scheduleArn: 'review:publish-held', attemptNumber: 0, publishHeld: outputId };
      // Without waiting (the watch, whose run must stay short): Lambda retries it, and its dead-letter queue pages.
      lambda ??= new LambdaClient({});
      const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(event)), ...(wait ? {} : { InvocationType: 'Event' }) }));
      if (!wait) return { status: 'started', detail: `publishing run of ${agentId} started` };
      const payload = response.Payload ? (JSON.parse(new TextDecoder().decode(response.Payload)) as { status?: string; reason?: string; detail?: string; errorMessage?: string }) : {};
      if (response.FunctionError) return { status: 'failed', detail: payload.errorMessage ?? response.FunctionError };
      const status = payload.status === 'completed' || payload.status === 'halted' || payload.status === 'skipped' ? payload.status : 'failed';
      return { status, detail: payload.reason ?? payload.detail ?? status };
    },
  };
}

/** The links' signer, its key read from Secrets Manager through Powertools Parameters (cached five minutes). */
export async function linkSigner(env: ReviewEnvironment): Promise<LinkSigner> {
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  const key = await getSecret(env.linkKeySecretArn, { maxAge: 300 });
  if (typeof key !== 'string') throw new Error(`secret ${env.linkKeySecretArn} is not a string secret`);
  return new LinkSigner(key);
}
