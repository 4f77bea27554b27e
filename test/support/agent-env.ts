import { inject } from 'vitest';
import { agentSpec, breakerSpec } from '../../src/config/agent-spec';
import type { PipelineConfig } from '../../src/config/pipeline';
import type { TableNames } from '../../src/local/tables';

/**
 * The environment the stack gives an agent function, pointed at the run's DynamoDB Local (through the SDK's own
 * `AWS_ENDPOINT_URL_DYNAMODB`, as the local runner does).
 */
export function agentEnvironment(pipeline: PipelineConfig, agentId: string, names: TableNames): Record<string, string> {
  return {
    COORDINATION_TABLE: names.coordination,
    MEMORY_TABLE: names.memory,
    MEMORY_QUEUE_URL: 'http://127.0.0.1:1/no-queue-in-these-tests.fifo',
    NIGHTSHIFT_AGENT_SPEC: JSON.stringify(agentSpec(pipeline, agentId)),
    COUNTER_TABLE: names.counters,
    ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:alerts-not-reached-in-these-tests',
    SCHEDULE_GROUP: `${pipeline.name}-${pipeline.stage}`,
    NIGHTSHIFT_BREAKER_SPEC: JSON.stringify(breakerSpec(pipeline)),
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  };
}
