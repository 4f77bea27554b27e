import { Duration, aws_iam as iam } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/memory-store.ts';
import { actionsGranted, logicalId, testStack } from '../support/template.ts';

function memoryStore(props: ConstructorParameters<typeof MemoryStore>[2] = {}) {
  const stack = testStack();
  const memory = new MemoryStore(stack, 'Memory', props);
  return { stack, memory, template: () => Template.fromStack(stack) };
}

describe('MemoryStore', () => {
  it('keeps memory in a pk/sk table with point-in-time recovery, retained on stack deletion, its TTL for rejection records only', () => {
    const { template: synth } = memoryStore();
    const template = synth();
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // Only the steward's rejection records carry `ttl`; entries store their fields prefixed, so none can set it.
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      },
    });
  });

  it('takes updates on a FIFO queue whose deduplication ids come from the sender, not the content', () => {
    const { template: synth, memory, stack } = memoryStore();
    const template = synth();
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(memory.deadLetterQueue), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    expect(stack.resolve(memory.deadLetterQueue.fifo)).toBe(true);
  });

  it('sends an update to the FIFO DLQ after the configured number of receives', () => {
    const { template: synth } = memoryStore({ maxReceiveCount: 3 });
    const template = synth();
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: { maxReceiveCount: 3 } });
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 2);
  });

  it('sets the visibility timeout to six times the steward timeout', () => {
    const { template: synth } = memoryStore({ stewardTimeout: Duration.seconds(20) });
    const template = synth();
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 120, RedrivePolicy: Match.anyValue() });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 20 });
  });

  it('feeds the steward through an event source that reports batch item failures', () => {
    const { template: synth, memory } = memoryStore({ batchSize: 7 });
    const template = synth();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 7,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceArn: { 'Fn::GetAtt': [logicalId(memory.queue), 'Arn'] },
    });
  });

  it('rejects a batch size a FIFO event source cannot take', () => {
    expect(() => memoryStore({ batchSize: 11 })).toThrow(
      'MemoryStore batchSize must be an integer from 1 to 10 (FIFO event source limit), got 11',
    );
  });

  it('lets only the steward write memory; grantees may read and submit', () => {
    const { stack, memory } = memoryStore();
    const agent = new iam.Role(stack, 'Agent', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    memory.grantRead(agent);
    memory.grantSubmit(agent);
    const template = Template.fromStack(stack);
    const table = logicalId(memory.table);
    expect(actionsGranted(template, logicalId(memory.steward.role!), table)).toContain('dynamodb:PutItem');
    const agentOnTable = actionsGranted(template, logicalId(agent), table);
    expect(agentOnTable).toContain('dynamodb:GetItem');
    expect(agentOnTable.filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
    expect(actionsGranted(template, logicalId(agent), logicalId(memory.queue))).toContain('sqs:SendMessage');
  });

  it('keeps a sparse context index that projects only what retrieval ranks and packs by', () => {
    const { template } = memoryStore();
    template().hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'context',
          KeySchema: [
            { AttributeName: 'ctxNamespace', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['ctxText', 'ctxTokens', 'ctxSequence', 'tags', 'pinned', 'updatedAt'] },
        },
      ],
    });
  });

  it('encrypts the update queue and its dead-letter queue at rest and refuses plain HTTP to them', () => {
    const { template } = memoryStore();
    template().resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true, SqsManagedSseEnabled: true }, 2);
    for (const policy of Object.values(template().findResources('AWS::SQS::QueuePolicy'))) {
      expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });
});
