import {
  RemovalPolicy,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_kms as kms,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLE_SCHEMAS } from '../src/config/tables';
import { tablePropsFromSchema } from './table-props';

export interface CircuitBreakerProps {
  /** Addresses subscribed to the alert topic by email. @default - none */
  readonly alertEmails?: readonly string[];
  /** HTTPS pager webhook subscribed to the alert topic. @default - none */
  readonly pagerWebhookUrl?: string;
}

/**
 * The breaker's state and its sliding-window output counters (one table, TTL for clean-up), and the alert topic a
 * trip publishes to exactly once. The topic is encrypted with a customer managed key so that CloudWatch alarms can
 * publish to it too (AWS managed SNS keys do not let CloudWatch use them).
 */
export class CircuitBreaker extends Construct {
  readonly table: dynamodb.Table;
  readonly topic: sns.Topic;
  readonly topicKey: kms.Key;

  constructor(scope: Construct, id: string, props: CircuitBreakerProps = {}) {
    super(scope, id);
    const webhook = props.pagerWebhookUrl;
    if (webhook !== undefined && !webhook.startsWith('https://')) {
      throw new Error(`CircuitBreaker pagerWebhookUrl must be an https:// URL, got '${webhook}'`);
    }
    this.table = new dynamodb.Table(this, 'Table', {
      ...tablePropsFromSchema(TABLE_SCHEMAS.counters),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the Nightshift alert topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    this.topic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'Nightshift alerts',
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    for (const email of props.alertEmails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    if (webhook) this.topic.addSubscription(new subscriptions.UrlSubscription(webhook));
  }

  /** Lets an agent count its outputs and read or trip the breaker. */
  grantCount(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }

  /**
   * Lets a function publish the trip alert. Granted by hand rather than with `topic.grantPublish`, which adds the
   * wildcard action `kms:GenerateDataKey*`; SNS needs only these two key actions.
   */
  grantAlert(grantee: iam.IGrantable): iam.Grant {
    this.topicKey.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey');
    return iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
  }
}
