import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import { SnsAlerts } from '../../src/runtime/breaker/alerts.ts';
import { Breaker } from '../../src/runtime/breaker/breaker.ts';
import { OutputGuard } from '../../src/runtime/breaker/output-guard.ts';
import { OutputWindows } from '../../src/runtime/breaker/output-window.ts';
import { EventBridgeSchedules } from '../../src/runtime/breaker/schedules.ts';
import { coordination } from './coordination.ts';
import { dynamoForTest } from './dynamo.ts';

export const snsMock = mockClient(SNSClient);
export const schedulerMock = mockClient(SchedulerClient);

/**
 * Fake EventBridge Scheduler state behind the mocked client: GetSchedule returns every field, UpdateSchedule
 * replaces the schedule with what it is sent (as the real API does).
 */
export function fakeSchedules(states: Record<string, 'ENABLED' | 'DISABLED'>) {
  const schedules = new Map<string, GetScheduleCommandOutput>(
    Object.entries(states).map(([name, state]) => [
      name,
      {
        $metadata: {},
        Name: name,
        GroupName: 'nightshift-test',
        ScheduleExpression: 'cron(0 3 * * ? *)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`, RoleArn: 'arn:aws:iam::123456789012:role/scheduler', Input: '{}' },
        State: state,
      },
    ]),
  );
  schedulerMock.reset();
  schedulerMock.on(GetScheduleCommand).callsFake((input) => ({ ...schedules.get(input.Name)! }));
  const apply = (input: { Name?: string }) => {
    schedules.set(input.Name!, { $metadata: {}, ...input });
    return {};
  };
  schedulerMock.on(UpdateScheduleCommand).callsFake(apply);
  return {
    names: Object.keys(states),
    /** What UpdateSchedule does to the fake's state (for a test that wraps it). */
    apply,
    state: (name: string) => schedules.get(name)?.State,
    updates: () => schedulerMock.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input),
  };
}

export function alertsPublished() {
  return snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
}

/**
 * Breaker and output guard on fresh tables (the breaker state is one item per table, so each test gets its own),
 * with SNS and Scheduler mocked.
 */
export async function freshBreaker(
  options: {
    schedules?: Record<string, 'ENABLED' | 'DISABLED'>;
    pipelineMaxOutputs?: number;
    coolDownMinutes?: number;
    /** Each agent's own limit, as the breaker function checks it (its spec's `agentLimits`). */
    agentLimits?: Record<string, { maxOutputs: number; windowMinutes: number }>;
  } = {},
) {
  const dynamo = await dynamoForTest('breaker');
  const c = coordination(dynamo);
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'alert' });
  const schedules = fakeSchedules(options.schedules ?? { 'planner-0': 'ENABLED' });
  const tableName = dynamo.names.counters;
  const breaker = new Breaker({
    client: c.client,
    tableName,
    clock: c.clock,
    alerts: new SnsAlerts({ sns: new SNSClient({}), topicArn: 'arn:aws:sns:us-east-1:123456789012:alerts' }),
    schedules: new EventBridgeSchedules({ scheduler: new SchedulerClient({}), groupName: 'nightshift-test', scheduleNames: schedules.names }),
    pipelineLabel: 'nightshift (test)',
    resetCommand: 'npx nightshift breaker reset --stage test',
    metrics: c.metrics,
    pipelineLimit: { maxOutputs: options.pipelineMaxOutputs ?? 1000, windowMinutes: 60 },
    ...(options.coolDownMinutes === undefined ? {} : { coolDownMinutes: options.coolDownMinutes }),
    ...(options.agentLimits ? { agentLimits: options.agentLimits } : {}),
  });
  const windows = new OutputWindows({ client: c.client, tableName, clock: c.clock });
  const outputs = new OutputGuard({
    breaker,
    windows,
    metrics: c.metrics,
  });
  return { ...c, countersTable: tableName, breaker, windows, outputs, schedules, deps: { locks: c.locks, heartbeats: c.heartbeats, clock: c.clock, metrics: c.metrics, outputs } };
}

/** An agent spec for breaker tests: N=5 in 10 minutes, a 60-minute duplicate window, unless overridden. */
export function breakerSpec(overrides: Partial<AgentSpec> = {}): AgentSpec {
  return {
    id: 'community',
    leaseMinutes: 10,
    heartbeatIntervalMinutes: 5,
    upstream: [],
    breaker: { maxOutputs: 5, windowMinutes: 10 },
    duplicateWindowMinutes: 60,
    ...overrides,
  };
}
