import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { parseReviewEnvironment } from '../../src/contract/review-environment.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { approvalPage } from '../../src/runtime/review/approval-page.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { deployedReview, linkSigner } from '../shared/review-deps.ts';

const logger = new Logger({ serviceName: 'approval' });

/**
 * The approval function, behind its function URL: the page a digest's link opens (`approval-page.ts`). A GET shows
 * the held output and a button; the POST the button sends decides, and an approval waits for the agent's publishing
 * run. The link's signature is the only credential: the key is in Secrets Manager, readable by this function and the
 * watch alone.
 */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const env = parseReviewEnvironment();
  if (!env) throw new Error('the approval function has no review environment (NIGHTSHIFT_REVIEW)');
  const method = event.requestContext.http.method;
  const form = method === 'POST' && event.body ? new URLSearchParams(event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : undefined;
  const token = (method === 'POST' ? form?.get('t') : event.queryStringParameters?.t) ?? undefined;
  const wiring = new Wiring({ tables: { coordination: env.coordinationTable, memory: env.coordinationTable, counters: env.counterTable }, clock: systemClock });
  const page = await approvalPage(
    { signer: await linkSigner(env), review: deployedReview(env, wiring.dynamo, systemClock), clock: systemClock, label: env.label },
    { method, token, source: event.requestContext.http.sourceIp },
  );
  if (method === 'POST') logger.info('decision', { status: page.status, source: event.requestContext.http.sourceIp });
  return { statusCode: page.status, headers: { ...page.headers }, body: page.body };
};
