import { InvalidPropsError } from '../src/errors.ts';
import {
  Duration,
  Lazy,
  Validations,
  Stack,
  RemovalPolicy,
  aws_cloudwatch as cloudwatch,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_lambda_event_sources as sources,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CONTEXT_INDEX, TABLE_SCHEMAS, namespacePartitionKey, receiptsPartition, vectorPartitionKey } from '../src/contract/tables.ts';
import { METRICS_NAMESPACE, type MetricName, SERVICE_DIMENSION } from '../src/contract/metrics.ts';
import { type WriterGrant, commonVariables, redriveVariables, stewardVariables } from '../src/contract/environment.ts';
import { builtInHandler } from './bundling.ts';
import { MemoryEmbedder, grantTitanEmbed } from './memory-embedder.ts';
import { NightshiftFunction } from './nightshift-function.ts';
import { tablePropsFromSchema } from './table-props.ts';

export interface MemoryStoreProps {
  /** Steward handler file. @default - Nightshift's steward (`lambdas/steward/handler.ts` in the package) */
  readonly stewardEntry?: string;
  /** Messages per steward invocation (FIFO event sources allow 1-10). @default 10 */
  readonly batchSize?: number;
  /** Deliveries of one update before it moves to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
  /**
   * Steward invocations at once from the queue (the event source's maximum concurrency, 2-1000), also reserved for the
   * steward so no other function of the account can throttle it. @default - no limit and nothing reserved
   */
  readonly stewardConcurrency?: number;
  /** Steward function timeout; the queue's visibility timeout is six times this, as AWS advises. @default 30 seconds */
  readonly stewardTimeout?: Duration;
  /** Extra environment for the steward. @default - none */
  readonly environment?: Record<string, string>;
  /** X-Ray tracing of the steward. @default false */
  readonly tracing?: boolean;
  /**
   * Titan Text Embeddings V2's dimensions: the embedder embeds each entry whose searchable text changes, and readers
   * granted with `grantRead` may embed their queries. @default - no embeddings: retrieval by words only
   */
  readonly embeddingDimensions?: 256 | 512 | 1024;
}

/**
 * Shared agent memory with a single writer. Agents submit updates to a FIFO queue; the steward function consumes it
 * in order (per message group), applies each update to the memory table, and reports partial batch failures so a
 * failed update is retried without blocking unrelated groups. Updates that keep failing land in the FIFO DLQ.
 */
export class MemoryStore extends Construct {
  /** The memory table. Point-in-time recovery on; retained when the stack is deleted. */
  readonly table: dynamodb.Table;
  /** FIFO queue agents submit updates to. Deduplication ids are set by the sender, never from content. */
  readonly queue: sqs.Queue;
  /** FIFO dead-letter queue for updates that failed `maxReceiveCount` times. */
  readonly deadLetterQueue: sqs.Queue;
  /** The only function allowed to write the memory table. */
  readonly steward: NightshiftFunction;
  /**
   * Moves dead-lettered updates back to the queue (`nightshift dlq redrive` invokes it). Its role is the only sender
   * whose redrive attributes (original sequence and sender) the steward believes.
   */
  readonly redrive: NightshiftFunction;
  /** Whether entries are embedded (and readers may embed queries). */
  readonly embeddings: boolean;
  /** Embeds entries from the table's stream, apart from the steward, when embeddings are on. */
  readonly embedder?: MemoryEmbedder;
  private readonly writers: WriterGrant[] = [];
  /** Roles that may send to the queue: the registered agents' and the redrive's. */
  private readonly senders: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: MemoryStoreProps = {}) {
    super(scope, id);
    const batchSize = props.batchSize ?? 10;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new InvalidPropsError(`MemoryStore batchSize must be an integer from 1 to 10 (FIFO event source limit), got ${batchSize}`);
    }
    const stewardTimeout = props.stewardTimeout ?? Duration.seconds(30);

    this.table = new dynamodb.Table(this, 'Table', {
      ...tablePropsFromSchema(TABLE_SCHEMAS.memory),
      removalPolicy: RemovalPolicy.RETAIN,
      // What the embedder reads: each entry as the steward left it.
      ...(props.embeddingDimensions ? { stream: dynamodb.StreamViewType.NEW_IMAGE } : {}),
    });
    for (const index of TABLE_SCHEMAS.memory.globalIndexes ?? []) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.include],
      });
    }
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      contentBasedDeduplication: false,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    Validations.of(this.deadLetterQueue).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: 'this queue is itself the dead-letter queue of the memory queue' });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      // Memory updates at rest: SQS-managed keys, so agents need no KMS grant to submit.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      contentBasedDeduplication: false,
      // High-throughput FIFO: order and deduplication per message group, so unrelated keys do not queue behind each other.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: Duration.seconds(stewardTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });

    this.redrive = new NightshiftFunction(this, 'Redrive', {
      entry: builtInHandler('redrive'),
      timeout: Duration.minutes(5),
      environment: { ...commonVariables('redrive') },
      tracing: props.tracing ?? false,
      invocation: 'sync',
    });
    const redriveRole = this.redrive.role as iam.Role;
    for (const [name, value] of Object.entries(redriveVariables({ memoryQueueUrl: this.queue.queueUrl, deadLetterQueueUrl: this.deadLetterQueue.queueUrl, redriver: redriveRole.roleId }))) {
      this.redrive.addEnvironment(name, value);
    }
    iam.Grant.addToPrincipal({ grantee: this.redrive, actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resourceArns: [this.deadLetterQueue.queueArn] });
    iam.Grant.addToPrincipal({ grantee: this.redrive, actions: ['sqs:SendMessage'], resourceArns: [this.queue.queueArn] });
    this.senders.push(redriveRole);

    this.steward = new NightshiftFunction(this, 'Steward', {
      entry: props.stewardEntry ?? builtInHandler('steward'),
      timeout: stewardTimeout,
      ...(props.stewardConcurrency === undefined ? {} : { reservedConcurrency: props.stewardConcurrency }),
      environment: {
        ...commonVariables('steward'),
        ...props.environment,
        // Who may write what, by the role each agent sends with: SQS stamps it on every message as SenderId.
        ...stewardVariables({
          memoryTable: this.table.tableName,
          writers: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.writers) }),
          redriver: redriveRole.roleId,
        }),
      },
      tracing: props.tracing ?? false,
      invocation: 'sync',
    });
    const eventSource = new sources.SqsEventSource(this.queue, {
      batchSize,
      reportBatchItemFailures: true,
      ...(props.stewardConcurrency === undefined ? {} : { maxConcurrency: props.stewardConcurrency }),
    });
    this.steward.addEventSource(eventSource);
    Validations.of(this.steward).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: 'an SQS event source dead-letters through the queue\'s own redrive policy (maxReceiveCount), where every update that keeps failing lands',
    });
    // Exactly the calls the steward makes: conditional puts and updates (alone or in a transaction), and the read
    // back of a fenced merge to stamp its context index.
    iam.Grant.addToPrincipal({
      grantee: this.steward,
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem'],
      resourceArns: [this.table.tableArn],
    });
    // Vectors are the embedder's: the steward, which may write the rest of the table, may not write them.
    this.steward.addToRolePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [vectorPartitionKey('*')] } },
      }),
    );
    this.embeddings = props.embeddingDimensions !== undefined;
    if (props.embeddingDimensions) this.embedder = new MemoryEmbedder(this, 'Embedder', { table: this.table, dimensions: props.embeddingDimensions, tracing: props.tracing ?? false });
    // Only the registered agents and the redrive may send: any other principal of the account is refused by the
    // queue itself, whatever its own policies allow.
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyAgentsAndRedriveSend',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => this.senders.map((role) => role.roleArn) }) } },
      }),
    );
  }

  /** Lets an operator run the redrive (`nightshift dlq redrive`). */
  grantRedrive(grantee: iam.IGrantable): iam.Grant {
    return this.redrive.grantInvoke(grantee);
  }

  /**
   * Lets an agent submit memory updates (it can never write the table itself): `sqs:SendMessage` alone, which
   * covers SendMessageBatch; `queue.grantSendMessages` would add GetQueueAttributes and GetQueueUrl, never called.
   */
  grantSubmit(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [this.queue.queueArn] });
  }

  /**
   * Registers an agent as a writer: it may submit updates, and the steward applies those sent with `role` only when
   * they name `agentId` and touch one of `namespaces`. An agent never registered can submit nothing the steward
   * applies.
   */
  addWriter(
    agentId: string,
    role: iam.IRole,
    namespaces: readonly string[],
    pins: readonly string[] = [],
    updatesPerHour?: number,
    options: { /** Keep receipts of its updates, for the runs its outputs start. */ readonly receipts?: boolean } = {},
  ): iam.Grant {
    if (!(role instanceof iam.Role)) throw new InvalidPropsError(`MemoryStore.addWriter needs the agent's own iam.Role (for its role id), got ${role.node.path}`);
    this.writers.push({ principal: role.roleId, agentId, writes: [...namespaces], pins: pins.filter((ns) => namespaces.includes(ns)), ...(updatesPerHour === undefined ? {} : { updatesPerHour }), ...(options.receipts ? { receipts: true } : {}) });
    this.senders.push(role);
    return this.grantSubmit(role);
  }

  /**
   * Lets an agent or operator read memory: entries by key or namespace, and the context index retrieval queries.
   * Given `namespaces`, only those: a `dynamodb:LeadingKeys` condition limits every read to their partition keys
   * (`mem#<namespace>` in the table, `<namespace>` in the context index), so a read of another namespace is denied
   * by AWS itself. An empty list grants nothing.
   * @param namespaces @default - every namespace (an operator)
   */
  grantRead(grantee: iam.IGrantable, namespaces?: readonly string[]): iam.Grant | undefined {
    if (namespaces?.length === 0) return undefined;
    const index = `${this.table.tableArn}/index/${CONTEXT_INDEX.indexName}`;
    if (!namespaces) {
      return iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'], resourceArns: [this.table.tableArn, index] });
    }
    // Two statements: the table's partitions are `mem#<namespace>` (and the entries' vectors `vec#<namespace>`), the
    // index's the bare names. One statement with both key lists would let a bare name (say `rejected`) read that
    // partition of the table.
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'], resourceArns: [this.table.tableArn] });
    grant.principalStatement?.addCondition('ForAllValues:StringEquals', {
      'dynamodb:LeadingKeys': [...namespaces.map(namespacePartitionKey), ...(this.embeddings ? namespaces.map(vectorPartitionKey) : [])],
    });
    const indexGrant = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [index] });
    indexGrant.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': [...namespaces] });
    // A reader ranks by meaning by embedding its query: exactly the embedding model, nothing else on Bedrock.
    return this.embeddings ? grant.combine(indexGrant).combine(grantTitanEmbed(this, grantee)) : grant.combine(indexGrant);
  }

  /**
   * Lets an agent started by others' outputs read the steward's receipts of those agents' updates (`GetItem` on
   * `receipts#<agent>` only), which it waits on before its work starts. An empty list grants nothing.
   */
  grantReceipts(grantee: iam.IGrantable, upstreams: readonly string[]): iam.Grant | undefined {
    if (upstreams.length === 0) return undefined;
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem'], resourceArns: [this.table.tableArn] });
    grant.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': upstreams.map(receiptsPartition) });
    return grant;
  }


  /**
   * A metric the steward publishes (namespace `Nightshift`, dimension `service` = `steward`): `UpdatesApplied`,
   * `UpdatesDuplicate`, `UpdatesRejected`, `UpdatesUnauthorized`.
   * @default statistic Sum, period 5 minutes
   */
  metricSteward(metricName: MetricName, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { [SERVICE_DIMENSION]: 'steward' },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...props,
    });
  }

  /** Updates the steward rejected with a reason (recorded on the memory table, `nightshift status` shows them). */
  metricUpdatesRejected(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricSteward('UpdatesRejected', props);
  }
}
