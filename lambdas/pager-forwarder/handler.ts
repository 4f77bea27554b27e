import { InvalidPropsError, NightshiftError } from '../../src/errors';
import { Logger } from '@aws-lambda-powertools/logger';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import type { SNSEvent } from 'aws-lambda';
import { parsePagerEnvironment } from '../../src/contract/environment';

const logger = new Logger({ serviceName: 'pager-forwarder' });

/** The webhook is re-read at most this often, so a rotated integration key is picked up without a deploy. */
const CACHE_SECONDS = 300;

/**
 * Forwards each alert on the topic to the pager webhook, whose URL (usually carrying the integration key) lives in
 * an SSM SecureString parameter read at run time: it is never in the template, the function's environment or its
 * logs. A failed POST throws, so SNS retries the delivery.
 */
export async function handler(event: SNSEvent): Promise<void> {
  const parameter = parsePagerEnvironment();
  const url = await getParameter(parameter, { decrypt: true, maxAge: CACHE_SECONDS });
  if (!url?.startsWith('https://')) {
    throw new InvalidPropsError(`SSM parameter ${parameter} must hold an https:// webhook URL`);
  }
  for (const record of event.Records) {
    const { Subject, Message, TopicArn, Timestamp, MessageId } = record.Sns;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: Subject, message: Message, topicArn: TopicArn, timestamp: Timestamp, messageId: MessageId }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new NightshiftError(`pager webhook answered ${response.status} for alert ${MessageId}`);
    logger.info('alert forwarded to the pager', { messageId: MessageId, status: response.status });
  }
}
