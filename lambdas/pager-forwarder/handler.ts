import { InvalidPropsError, NightshiftError } from '../../src/errors.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import type { SNSEvent } from 'aws-lambda';
import { parsePagerEnvironment } from '../../src/contract/environment.ts';

const logger = new Logger({ serviceName: 'pager-forwarder' });

/** The webhook is re-read at most this often, so a rotated integration key is picked up without a deploy. */
const CACHE_SECONDS = 300;

/**
 * Forwards each alert on the topic to the pager webhook, whose URL (usually carrying the integration key) lives in
 * an SSM SecureString parameter read at run time: it is never in the template, the function's environment or its
 * logs (no error this function throws quotes it, whatever is wrong with it). A failed POST throws: Lambda retries
 * the asynchronous invocation twice, then records the alert in the pager-failures queue, which an alarm watches.
 */
export async function handler(event: SNSEvent): Promise<void> {
  const parameter = parsePagerEnvironment();
  const url = webhook(await getParameter(parameter, { decrypt: true, maxAge: CACHE_SECONDS }), parameter);
  for (const record of event.Records) {
    const { Subject, Message, TopicArn, Timestamp, MessageId } = record.Sns;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: Subject, message: Message, topicArn: TopicArn, timestamp: Timestamp, messageId: MessageId }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      // fetch's own errors can quote the URL: say what failed, never where.
      throw new NightshiftError(`pager webhook request for alert ${MessageId} failed (${error instanceof Error ? error.name : 'error'}) at host ${url.host}`);
    }
    if (!response.ok) throw new NightshiftError(`pager webhook at host ${url.host} answered ${response.status} for alert ${MessageId}`);
    logger.info('alert forwarded to the pager', { messageId: MessageId, status: response.status, host: url.host });
  }
}

/** The webhook as a URL, or an error naming the parameter (never its value). */
function webhook(value: string | undefined, parameter: string): URL {
  let url: URL | undefined;
  try {
    url = value === undefined ? undefined : new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:') throw new InvalidPropsError(`SSM parameter ${parameter} must hold an https:// webhook URL (its value is not shown)`);
  return url;
}
