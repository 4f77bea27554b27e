import { afterAll, inject } from 'vitest';
import { agentSpec, breakerSpec } from '../../src/config/agent-spec';
import type { PipelineConfig } from '../../src/config/pipeline';
import { LocalSqs } from '../../local/sqs-server';
import type { TableNames } from '../../src/contract/tables';
import { agentVariables } from '../../src/contract/environment';
import { systemClock } from '../../src/runtime/clock';

/** A local SQS endpoint with a memory queue, on wall-clock time (what deployed handlers see), for this test file. */
export async function memoryQueueForTest() {
  const sqs = new LocalSqs(systemClock);
  await sqs.start();
  afterAll(() => sqs.stop());
  sqs.createQueues([{ name: 'memory-dlq.fifo' }, { name: 'memory.fifo', deadLetter: { name: 'memory-dlq.fifo', maxReceiveCount: 5 } }]);
  return { sqs, queueUrl: sqs.queueUrl('memory.fifo'), queue: sqs.queue('memory.fifo') };
}

/**
 * The environment the stack gives an agent function, pointed at the run's DynamoDB Local and a local SQS (through
 * the SDK's own `AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL_SQS`).
 */
export function agentEnvironment(
  pipeline: PipelineConfig,
  agentId: string,
  names: TableNames,
  memory: { sqs: LocalSqs; queueUrl: string },
): Record<string, string> {
  return {
    // What the stack writes, with the contract's builder.
    ...agentVariables({
      coordinationTable: names.coordination,
      memoryTable: names.memory,
      memoryQueueUrl: memory.queueUrl,
      agentSpec: agentSpec(pipeline, agentId),
      counterTable: names.counters,
      alertTopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts-not-reached-in-these-tests',
      scheduleGroup: `${pipeline.name}-${pipeline.stage}`,
      breakerSpec: breakerSpec(pipeline),
      modelProvider: 'offline',
    }),
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_ENDPOINT_URL_SQS: memory.sqs.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  };
}
