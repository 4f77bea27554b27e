import { afterAll, inject } from 'vitest';
import { agentSpec, breakerSpec } from '../../src/config/agent-spec.ts';
import type { PipelineConfig } from '../../src/config/pipeline.ts';
import { LocalSqs } from '../../local/sqs-server.ts';
import type { TableNames } from '../../src/contract/tables.ts';
import { agentVariables, breakerVariables } from '../../src/contract/environment.ts';
import { systemClock } from '../../src/runtime/clock.ts';

/** A local SQS endpoint with a memory queue, on wall-clock time (what deployed handlers see), for this test file. */
export async function memoryQueueForTest() {
  const sqs = new LocalSqs(systemClock);
  await sqs.start();
  afterAll(() => sqs.stop());
  sqs.createQueues([{ name: 'memory-dlq.fifo' }, { name: 'memory.fifo', deadLetter: { name: 'memory-dlq.fifo', maxReceiveCount: 5 } }]);
  return { sqs, queueUrl: sqs.queueUrl('memory.fifo'), queue: sqs.queue('memory.fifo') };
}

/** The breaker function's ARN an agent invokes, qualified by that agent's alias. */
export const breakerFunctionArn = (agentId: string) => `arn:aws:lambda:us-east-1:123456789012:function:nightshift-test-breaker:${agentId}`;

/**
 * The environment the stack gives an agent function (and the breaker function it asks), pointed at the run's
 * DynamoDB Local, a local SQS and a local Lambda endpoint (through the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL_LAMBDA`).
 */
export function agentEnvironment(
  pipeline: PipelineConfig,
  agentId: string,
  names: TableNames,
  memory: { sqs: LocalSqs; queueUrl: string },
  lambdaEndpoint: string,
): Record<string, string> {
  return {
    // What the stack writes, with the contract's builders: the agent's, and the breaker function's (same process).
    ...breakerVariables({
      counterTable: names.counters,
      alertTopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts-not-reached-in-these-tests',
      scheduleGroup: `${pipeline.name}-${pipeline.stage}`,
      breakerSpec: breakerSpec(pipeline),
    }),
    ...agentVariables({
      coordinationTable: names.coordination,
      memoryTable: names.memory,
      memoryQueueUrl: memory.queueUrl,
      agentSpec: agentSpec(pipeline, agentId),
      counterTable: names.counters,
      breakerFunction: breakerFunctionArn(agentId),
      modelProvider: 'offline',
    }),
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint,
    AWS_ENDPOINT_URL_SQS: memory.sqs.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  };
}
