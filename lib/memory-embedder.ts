import {
  ArnFormat,
  Duration,
  Stack,
  Validations,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_lambda_event_sources as sources,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { type EmbeddingDimensions, commonVariables, embedderVariables } from '../src/contract/environment.ts';
import { KEYS } from '../src/contract/tables.ts';
import { TITAN_V2 } from '../src/runtime/memory/embedder.ts';
import { builtInHandler } from './bundling.ts';
import { NightshiftFunction } from './nightshift-function.ts';

export interface MemoryEmbedderProps {
  /** The memory table, with a stream of new images. */
  readonly table: dynamodb.ITable;
  readonly dimensions: EmbeddingDimensions;
  readonly tracing?: boolean;
}

/**
 * Embedding apart from the steward: the memory table's stream feeds the embedder function, which gives each entry
 * whose text changed a vector (Titan Text Embeddings V2). The steward never waits on the model; an entry is found by
 * its words at once and by meaning once embedded. A batch that fails is retried (split in halves to isolate the
 * failing record), and a record still failing after the retries goes to `failures` with where it was in the stream;
 * every failure is recorded on the memory table too, where the watch counts them and pages.
 */
export class MemoryEmbedder extends Construct {
  readonly function: NightshiftFunction;
  /** Stream records the embedder gave up on (their entries stay found by their words). */
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: MemoryEmbedderProps) {
    super(scope, id);
    this.failures = new sqs.Queue(this, 'Failures', { retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
    for (const rule of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
      Validations.of(this.failures).acknowledge({ id: rule, reason: 'this queue is itself where the embedder\'s failed stream records go' });
    }
    this.function = new NightshiftFunction(this, 'Function', {
      entry: builtInHandler('embedder'),
      timeout: Duration.minutes(1),
      environment: { ...commonVariables('embedder'), ...embedderVariables({ memoryTable: props.table.tableName, embeddingDimensions: props.dimensions }) },
      tracing: props.tracing ?? false,
      // A stream's event source mapping waits for the answer and sends what keeps failing to `failures`.
      invocation: 'sync',
    });
    this.function.addEventSource(
      new sources.DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        bisectBatchOnError: true,
        retryAttempts: 3,
        reportBatchItemFailures: true,
        onFailure: new sources.SqsDlq(this.failures),
        // Entries only, written or changed: not the vectors the embedder writes itself, nor receipts, quotas or removals.
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.or('INSERT', 'MODIFY'), dynamodb: { NewImage: { pk: { S: lambda.FilterRule.beginsWith('mem#') } } } })],
      }),
    );
    // Exactly what it does with the table: reads a vector's `of`, writes the vector, counts a failure.
    const vectors = iam.Grant.addToPrincipal({ grantee: this.function, actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resourceArns: [props.table.tableArn] });
    vectors.principalStatement?.addCondition('ForAllValues:StringLike', { 'dynamodb:LeadingKeys': ['vec#*'] });
    const failed = iam.Grant.addToPrincipal({ grantee: this.function, actions: ['dynamodb:UpdateItem'], resourceArns: [props.table.tableArn] });
    failed.principalStatement?.addCondition('ForAllValues:StringEquals', { 'dynamodb:LeadingKeys': [KEYS.memory.embeddingFailures.pk] });
    grantTitanEmbed(this, this.function);
    const policy = this.function.role?.node.tryFindChild('DefaultPolicy');
    if (policy) {
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'dynamodb:ListStreams (granted by the stream event source) supports no resource-level permissions; every other action here names the table or its stream',
      });
    }
  }
}

/** `bedrock:InvokeModel` on Titan Text Embeddings V2 in `scope`'s stack's region, and no other model. */
export function grantTitanEmbed(scope: Construct, grantee: iam.IGrantable): iam.Grant {
  const model = Stack.of(scope).formatArn({ service: 'bedrock', account: '', resource: 'foundation-model', resourceName: TITAN_V2, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  return iam.Grant.addToPrincipal({ grantee, actions: ['bedrock:InvokeModel'], resourceArns: [model] });
}
