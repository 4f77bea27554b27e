import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import reference from '../../nightshift.config.ts';
import { invokeDeployed } from '../../cli/invoke.ts';
import { parseReplay, replayDeployed } from '../../cli/replay.ts';
import { RunHistory } from '../../src/runtime/run-history.ts';
import { dlqRedrive, locksRelease, status } from '../../cli/ops.ts';
import { type Target, deployedTarget } from '../../cli/target.ts';
import { memoryQueueForTest } from '../support/agent-env.ts';
import { dynamoForTest } from '../support/dynamo.ts';

/**
 * The CLI against a "deployed" stack: CloudFormation is mocked to return the stack's outputs, which point at this
 * run's DynamoDB Local tables and a local SQS, reached through the SDK's service endpoint variables.
 */
const { names } = await dynamoForTest('deployed');
const memory = await memoryQueueForTest();
const cloudFormation = mockClient(CloudFormationClient);
// Files share one process (vitest `isolate: false`): the stubbed client must not outlive this file.
afterAll(() => cloudFormation.restore());
let target: Target;

beforeAll(async () => {
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', inject('dynamoEndpoint'));
  vi.stubEnv('AWS_ENDPOINT_URL_SQS', memory.sqs.endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  cloudFormation.on(DescribeStacksCommand, { StackName: 'nightshift-dev' }).resolves({
    Stacks: [
      {
        StackName: 'nightshift-dev',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: Object.entries({
          CoordinationTableName: names.coordination,
          MemoryTableName: names.memory,
          CounterTableName: names.counters,
          MemoryQueueUrl: memory.queueUrl,
          MemoryDeadLetterQueueUrl: memory.sqs.queueUrl('memory-dlq.fifo'),
          AlertTopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts',
          ScheduleGroupName: 'nightshift-dev',
          AgentFunctionNames: JSON.stringify({ writer: 'nightshift-dev-writer-fn' }),
          RedriveFunctionName: 'nightshift-dev-redrive',
        }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  target = await deployedTarget(reference, 'dev');
});
afterAll(() => vi.unstubAllEnvs());

describe('ops CLI against a deployed stack', () => {
  it('finds the tables and queues through the stack outputs and reports status', async () => {
    const result = await status(target);
    expect(result.data).toMatchObject({
      target: 'stack nightshift-dev',
      breaker: { status: 'CLOSED' },
      queues: { queue: 0, inFlight: 0, deadLetters: 0 },
      rejectedUpdates: 0,
    });
    expect(result.text).toContain('planner      never');
  });

  it('redrives by invoking the stack\'s redrive function, whose role the steward believes, and reports what it moved', async () => {
    const lambda = mockClient(LambdaClient);
    try {
      lambda.on(InvokeCommand, { FunctionName: 'nightshift-dev-redrive' }).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ moved: 1, messageIds: ['m1'] })) as never });
      const redrive = await dlqRedrive(target);
      expect(redrive.text).toBe('Moved 1 dead-lettered update(s) back to the memory queue.');
      expect(lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input.FunctionName)).toEqual(['nightshift-dev-redrive']);
      lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode(JSON.stringify({ errorType: 'AccessDenied', errorMessage: 'no' })) as never });
      await expect(dlqRedrive(target)).rejects.toThrow('redrive failed (AccessDenied): no');
    } finally {
      lambda.restore();
    }
  });

  it('force-releases a stuck lock and keeps its fencing token for the next holder', async () => {
    const lease = await target.locks.acquire('writer@2026-11-25T14:15:00.000Z', 'crashed-run', 15 * 60_000);
    const released = await locksRelease(target, lease.taskId, true);
    expect(released.text).toBe(`Released ${lease.taskId} (held by crashed-run).`);
    const next = await target.locks.acquire(lease.taskId, 'retry', 15 * 60_000);
    expect(next.fencingToken).toBe(lease.fencingToken + 1);
  });

  it('says what is missing when the stack lacks an output', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'nightshift-old' }).resolves({ Stacks: [{ StackName: 'nightshift-old', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    await expect(deployedTarget(reference, 'old')).rejects.toThrow(
      'Stack nightshift-old has no output MemoryQueueUrl or NightshiftOldMemoryQueueUrl: deploy it with this version of Nightshift (or name the stack that holds the pipeline with --stack)',
    );
  });

  it('invokes the deployed function with a Scheduler-shaped event for the slot asked, and reports the outcome', async () => {
    const lambda = mockClient(LambdaClient);
    const outcome = { status: 'completed', taskId: 'writer@2026-11-25T09:00:00.000Z', outputs: [{ published: true }] };
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(outcome)) as never });
    const result = await invokeDeployed(reference, 'dev', 'writer', '2026-11-25T09:00:00Z');
    const sent = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(sent.FunctionName).toBe('nightshift-dev-writer-fn');
    expect(JSON.parse(new TextDecoder().decode(sent.Payload as Uint8Array))).toEqual({
      agentId: 'writer',
      scheduledTime: '2026-11-25T09:00:00.000Z',
      scheduleArn: 'manual:nightshift-invoke',
      attemptNumber: '0',
    });
    expect(result.text).toBe('completed (task writer@2026-11-25T09:00:00.000Z)\n1 output(s) published');

    lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode('{"errorType":"InvocationError","errorMessage":"bad"}') as never });
    await expect(invokeDeployed(reference, 'dev', 'writer', undefined)).rejects.toThrow('writer failed (InvocationError): bad');
    lambda.restore();
  });

  it('replays a failed run against the deployed stack: its original invocation, marked as a replay of its task, to its function', async () => {
    const invocation = { agentId: 'writer', scheduledTime: '2026-11-25T02:15:00.000Z', scheduleArn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/nightshift-dev/writer-0', attemptNumber: 0 };
    const failed = RunHistory.entry('writer', 'writer@2026-11-25T02:15:00.000Z', Date.parse('2026-11-25T02:15:01Z'), Date.parse('2026-11-25T02:16:00Z'), { error: new Error('model timed out') }, 'schedule', { event: invocation });
    await target.history.record(failed);
    const lambda = mockClient(LambdaClient);
    const outcome = { status: 'completed', taskId: 'writer@replay:writer@2026-11-25T02:15:00.000Z', outputs: [] };
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(outcome)) as never });
    const request = parseReplay(undefined, { failed: true, since: '2026-11-25T02:00:00Z', agent: 'writer' }, reference.agents.map((a) => a.id), Date.now);
    const result = await replayDeployed(reference, target.history, 'nightshift-dev', request);
    const sent = lambda.commandCalls(InvokeCommand).map((c) => ({ name: c.args[0].input.FunctionName, payload: JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)) }));
    expect(sent).toEqual([{ name: 'nightshift-dev-writer-fn', payload: { ...invocation, replayOf: 'writer@2026-11-25T02:15:00.000Z' } }]);
    expect(result.text).toContain('writer: writer@2026-11-25T02:15:00.000Z → completed (task writer@replay:writer@2026-11-25T02:15:00.000Z)');
    // By id, only a failed, halted or refused run: a completed one is refused, saying so, and nothing is sent.
    const completed = { ...failed, taskId: 'writer@2026-11-25T04:15:00.000Z', startedAt: '2026-11-25T04:15:01.000Z', status: 'completed' as const, detail: undefined };
    await target.history.record(JSON.parse(JSON.stringify(completed)));
    const byId = parseReplay('writer@2026-11-25T04:15:00.000Z', {}, reference.agents.map((a) => a.id), Date.now);
    await expect(replayDeployed(reference, target.history, 'nightshift-dev', byId)).rejects.toThrow('writer@2026-11-25T04:15:00.000Z completed: replay runs a failed, halted or refused run');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    lambda.restore();
  });
});
