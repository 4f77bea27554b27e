import { aws_scheduler as scheduler, aws_sqs as sqs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../lib/agent.ts';
import { NightshiftFunction, newestNodeRuntime } from '../../lib/nightshift-function.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { NightshiftStack } from '../../lib/nightshift-stack.ts';
import { logicalId, testApp, testStack } from '../support/template.ts';

const pipeline = definePipeline({
  name: 'test',
  stage: 'dev',
  breaker: { maxOutputs: 10, windowMinutes: 10 },
  agents: [
    {
      id: 'community',
      entry: 'lambdas/agents/community/handler.ts',
      schedules: [
        { cron: '30 3 * * *' },
        { cron: '0 9 * * 1-5', timeZone: 'America/New_York' },
      ],
      breaker: { maxOutputs: 5, windowMinutes: 60 },
      timeoutSeconds: 120,
      memoryMb: 256,
    },
  ],
});

function agentStack() {
  const stack = testStack();
  const scheduleGroup = new scheduler.ScheduleGroup(stack, 'Group', { scheduleGroupName: 'test-dev' });
  const scheduleDeadLetterQueue = new sqs.Queue(stack, 'Dlq');
  const agent = new Agent(stack, 'Community', { config: pipeline.agents[0]!, scheduleGroup, scheduleDeadLetterQueue });
  return { stack, agent, scheduleGroup, scheduleDeadLetterQueue, template: Template.fromStack(stack) };
}

describe('Agent', () => {
  it('runs as an arm64 function on the newest Node.js runtime aws-cdk-lib knows, sized from the config', () => {
    const { template } = agentStack();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: newestNodeRuntime().name,
      Architectures: ['arm64'],
      Timeout: 120,
      MemorySize: 256,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'community' }) },
    });
  });

  it('hands the runtime its spec in the stack: lease, heartbeat interval, upstream limits, breaker', () => {
    const template = Template.fromStack(new NightshiftStack(testApp(), 'Spec', { pipeline }));
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'community')!;
    expect(JSON.parse(fn.Properties.Environment.Variables.NIGHTSHIFT_AGENT_SPEC)).toEqual({
      id: 'community',
      leaseMinutes: 30,
      heartbeatIntervalMinutes: 5,
      upstream: [],
      breaker: { maxOutputs: 5, windowMinutes: 60 },
      duplicateWindowMinutes: 1440,
    });
  });

  it('creates one schedule per cron entry, translated and in its time zone, in the pipeline group', () => {
    const { template, agent } = agentStack();
    expect(agent.schedules).toHaveLength(2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'community-0',
      GroupName: 'test-dev',
      ScheduleExpression: 'cron(30 3 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'community-1',
      ScheduleExpression: 'cron(0 9 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'America/New_York',
    });
  });

  it('retries a failed invocation, then dead-letters it', () => {
    const { template, scheduleDeadLetterQueue } = agentStack();
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Target: {
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(scheduleDeadLetterQueue), 'Arn'] } },
      },
    });
  });

  it('passes the agent id and the slot time, from which the guard derives the task lock', () => {
    const { template } = agentStack();
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    const input = JSON.parse(schedules[0]!.Properties.Target.Input);
    expect(input).toEqual({
      agentId: 'community',
      scheduledTime: '<aws.scheduler.scheduled-time>',
      scheduleArn: '<aws.scheduler.schedule-arn>',
      attemptNumber: '<aws.scheduler.attempt-number>',
    });
  });
});

describe('NightshiftFunction invocation', () => {
  it('refuses an asynchronously invoked function with nowhere for a failed invocation to go', () => {
    const stack = testStack();
    expect(() => new NightshiftFunction(stack, 'Orphan', { entry: 'lambdas/redrive/handler.ts' })).toThrow(/needs a deadLetterQueue, or a failed invocation is dropped/);
  });
});
