import { InvalidPropsError } from '../src/errors.ts';
import {
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
  aws_sqs as sqs,
  aws_cloudwatch as cloudwatch,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_kms as kms,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { KEYS, TABLE_SCHEMAS, heldPartition } from '../src/contract/tables.ts';
import { commonVariables, pagerVariables } from '../src/contract/environment.ts';
import { METRIC, METRICS_NAMESPACE, SERVICE_DIMENSION } from '../src/contract/metrics.ts';
import { builtInHandler } from './bundling.ts';
import { NightshiftFunction } from './nightshift-function.ts';
import { tablePropsFromSchema } from './table-props.ts';

export interface CircuitBreakerProps {
  /** Addresses subscribed to the alert topic by email. @default - none */
  readonly alertEmails?: readonly string[];
  /**
   * Name of an SSM SecureString parameter holding the pager's HTTPS webhook URL (which usually carries its
   * integration key). A forwarder function subscribed to the topic reads it at run time, so the URL never appears in
   * a template. Create the parameter before deploying. @default - no pager
   */
  readonly pagerWebhookParameter?: string;
  /** X-Ray tracing of the pager forwarder. @default false */
  readonly tracing?: boolean;
  /**
   * How the alert topic is encrypted. `customer-key`: a KMS key of its own ($1 a month), which CloudWatch alarms can
   * publish with. `aws-managed`: SNS's AWS managed key (no charge); alarms then reach the topic through a function
   * (`PipelineWatch`'s relay).
   * @default 'customer-key'
   */
  readonly topicEncryption?: 'customer-key' | 'aws-managed';
}

/**
 * The breaker's state and its sliding-window output counters (one table, TTL for clean-up), and the alert topic a
 * trip publishes to exactly once. The topic is encrypted with a customer managed key so that CloudWatch alarms can
 * publish to it too (AWS managed SNS keys do not let CloudWatch use them).
 */
export class CircuitBreaker extends Construct {
  readonly table: dynamodb.Table;
  readonly topic: sns.Topic;
  /** The topic's own key; none under `topicEncryption: 'aws-managed'`. */
  readonly topicKey?: kms.Key;
  /** Posts each alert to the pager webhook; only with `pagerWebhookParameter`. */
  readonly pagerForwarder?: NightshiftFunction;
  /**
   * Alerts the pager forwarder could not post after Lambda's retries (its dead-letter queue), kept 14 days;
   * `PipelineMonitoring` alarms on any. Only with `pagerWebhookParameter`.
   */
  readonly pagerFailures?: sqs.Queue;
  /** Alerts SNS could not deliver to a subscription (an email address, the forwarder), kept 14 days. */
  readonly deliveryFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: CircuitBreakerProps = {}) {
    super(scope, id);
    const parameter = props.pagerWebhookParameter;
    if (parameter !== undefined && !/^\/[A-Za-z0-9_.\-/]{1,1010}$/.test(parameter)) {
      throw new InvalidPropsError(`CircuitBreaker pagerWebhookParameter must be an SSM parameter name starting with '/', got '${parameter}'`);
    }
    this.table = new dynamodb.Table(this, 'Table', {
      ...tablePropsFromSchema(TABLE_SCHEMAS.counters),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    let masterKey: kms.IKey;
    if ((props.topicEncryption ?? 'customer-key') === 'customer-key') {
      this.topicKey = new kms.Key(this, 'TopicKey', {
        description: 'Encrypts the Nightshift alert topic',
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
      masterKey = this.topicKey;
    } else {
      masterKey = kms.Alias.fromAliasName(this, 'ManagedTopicKey', 'alias/aws/sns');
    }
    this.topic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'Nightshift alerts',
      masterKey,
      enforceSSL: true,
    });
    this.deliveryFailures = this.failureQueue('DeliveryFailures', 'the dead-letter queue of the alert topic\'s subscriptions');
    for (const email of props.alertEmails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email, { deadLetterQueue: this.deliveryFailures }));
    }
    if (parameter) {
      // SNS invokes the forwarder asynchronously: Lambda retries a failed post twice, then keeps the alert here.
      this.pagerFailures = this.failureQueue('PagerFailures', 'the dead-letter queue of the pager forwarder');
      this.pagerForwarder = new NightshiftFunction(this, 'PagerForwarder', {
        entry: builtInHandler('pager-forwarder'),
        timeout: Duration.seconds(30),
        memorySize: 256,
        environment: { ...pagerVariables(parameter), ...commonVariables('pager-forwarder') },
        tracing: props.tracing ?? false,
        deadLetterQueue: this.pagerFailures,
      });
      iam.Grant.addToPrincipal({
        grantee: this.pagerForwarder,
        actions: ['ssm:GetParameter'],
        resourceArns: [Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameter.slice(1) })],
      });
      this.topic.addSubscription(new subscriptions.LambdaSubscription(this.pagerForwarder, { deadLetterQueue: this.deliveryFailures }));
    }
  }

  /** A queue that failures land in: encrypted, TLS only, kept 14 days, itself with no dead-letter queue. */
  private failureQueue(id: string, what: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, { retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
    for (const rule of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) Validations.of(queue).acknowledge({ id: rule, reason: `This queue is itself ${what}` });
    return queue;
  }

  /**
   * Lets an agent keep its own content claims, token budget and event counts (GetItem and UpdateItem on its own items
   * only, by a `dynamodb:LeadingKeys` condition) and read the breaker's state. Nothing else on the table: its outputs
   * are counted by the breaker function, on items (`verified#<agent>`, the breaker's) no agent role may write.
   */
  grantAgentCounters(grantee: iam.IGrantable, agentId: string): iam.Grant {
    const own = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resourceArns: [this.table.tableArn] });
    own.principalStatement?.addCondition('ForAllValues:StringEquals', {
      'dynamodb:LeadingKeys': [KEYS.counters.outputs(agentId).pk, KEYS.counters.tokens(agentId, '').pk, KEYS.counters.events(agentId, 0).pk],
    });
    const state = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem'], resourceArns: [this.table.tableArn] });
    state.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': [KEYS.counters.breaker.pk] });
    return own.combine(state);
  }

  /**
   * Lets the breaker function keep each agent's verified count (`verified#<agent>`): items no agent role may write,
   * so a count an agent asks for is checked against the breaker's own.
   */
  grantVerifiedCounts(grantee: iam.IGrantable, agentIds: readonly string[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resourceArns: [this.table.tableArn] });
    grant.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': agentIds.map((id) => KEYS.counters.verified(id).pk) });
    return grant;
  }

  /**
   * Lets a function read and write the held outputs of the given (reviewed) agents (`held#<agent>`): the breaker
   * function holds and publishes them; deciders (the approval function, the watch on expiry) move them. No agent role.
   */
  grantHeldOutputs(grantee: iam.IGrantable, agentIds: readonly string[], actions: readonly string[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions: actions.map((a) => `dynamodb:${a}`), resourceArns: [this.table.tableArn] });
    grant.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': agentIds.map((id) => heldPartition(id)) });
    return grant;
  }

  /** Lets a privileged function (the breaker function, the watchdog) read and move the breaker's state item. */
  grantBreakerState(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resourceArns: [this.table.tableArn] });
    grant.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': [KEYS.counters.breaker.pk] });
    return grant;
  }

  /**
   * Lets a function publish the trip alert. Granted by hand rather than with `topic.grantPublish`, which adds the
   * wildcard action `kms:GenerateDataKey*`; SNS needs only these two key actions.
   */
  grantAlert(grantee: iam.IGrantable): iam.Grant {
    // Under SNS's AWS managed key, publishing needs no key grant: the key's policy lets SNS use it for the account.
    this.topicKey?.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey');
    return iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
  }

  /**
   * Breaker trips, summed over the services that count them (the agents whose outputs trip it; namespace
   * `Nightshift`, metric `BreakerTrips`).
   * @default statistic Sum, period 5 minutes
   */
  metricTrips(services: readonly string[], props: cloudwatch.MathExpressionOptions = {}): cloudwatch.MathExpression {
    const usingMetrics = Object.fromEntries(
      services.map((service, i) => [
        `trips_${i}`,
        new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: METRIC.BreakerTrips, dimensionsMap: { [SERVICE_DIMENSION]: service }, statistic: 'Sum', period: Duration.minutes(5) }),
      ]),
    );
    return new cloudwatch.MathExpression({ expression: services.length ? Object.keys(usingMetrics).join(' + ') : '0', usingMetrics, period: Duration.minutes(5), ...props });
  }

  /** Alerts published to the topic (trip alerts and alarm notifications). @default statistic Sum, period 5 minutes */
  metricAlertsPublished(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.topic.metricNumberOfMessagesPublished({ period: Duration.minutes(5), ...props });
  }
}
