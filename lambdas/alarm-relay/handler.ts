import { SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod/mini';
import { SnsAlerts } from '../../src/runtime/breaker/alerts.ts';
import { NightshiftError } from '../../src/errors.ts';

const sns = new SNSClient({});
const event = z.object({
  alarmData: z.object({
    alarmName: z.string(),
    state: z.object({ value: z.string(), reason: z.optional(z.string()) }),
    configuration: z.optional(z.object({ description: z.optional(z.string()) })),
  }),
});

/**
 * Relays a CloudWatch alarm to the alert topic. The topic is encrypted with SNS's AWS managed key (no $1-a-month key
 * of its own), which CloudWatch cannot publish with; a function can. Its one alarm is the watch's own silence.
 */
export const handler = async (input: unknown): Promise<void> => {
  const { alarmData } = event.parse(input);
  const topicArn = process.env.ALERT_TOPIC_ARN;
  if (!topicArn) throw new NightshiftError('ALERT_TOPIC_ARN is not set: deploy the relay with the stack');
  const resolved = alarmData.state.value === 'OK';
  await new SnsAlerts({ sns, topicArn }).publish({
    subject: `${resolved ? 'RESOLVED: ' : ''}${alarmData.alarmName}`,
    message: [alarmData.configuration?.description ?? '', alarmData.state.reason ?? ''].filter(Boolean).join('\n\n') || alarmData.alarmName,
  });
};
