import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/** One breaker alert: what tripped, the evidence, and how to recover. */
export interface Alert {
  readonly subject: string;
  readonly message: string;
}

/** Where alerts go: SNS in AWS, a file and the console in local mode. */
export interface AlertSink {
  publish(alert: Alert): Promise<void>;
}

/** Publishes to the pipeline's alert topic (email and pager subscriptions hang off it). */
export class SnsAlerts implements AlertSink {
  constructor(private readonly options: { sns: SNSClient; topicArn: string }) {}

  async publish(alert: Alert): Promise<void> {
    await this.options.sns.send(
      new PublishCommand({ TopicArn: this.options.topicArn, Subject: alert.subject.slice(0, 100), Message: alert.message }),
    );
  }
}
