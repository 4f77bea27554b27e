import { Stack, aws_lambda as lambda, aws_sqs as sqs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app.ts';
import { NightshiftPipeline } from '../../lib/nightshift-pipeline.ts';
import reference from '../../nightshift.config.ts';
import { actionsGranted, logicalId, testApp } from '../support/template.ts';

const app = testApp();
const stack = addNightshiftPipeline(app, reference);
const template = Template.fromStack(stack);

describe('NightshiftStack for the reference pipeline', () => {
  it('holds every resource the design needs', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 3);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 2);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    // 5 agents, the steward, the embedder, the redrive, the breaker function, the pager forwarder, the watch and its alarm relay
    template.resourceCountIs('AWS::Lambda::Function', 12);
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.resourceCountIs('AWS::Scheduler::Schedule', 13); // the agents' 12 and the watch's
    // Watch mode: one alarm (the watch's own silence), no key of the topic's own, no dashboard.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('schedules each configured cron expression', () => {
    const expressions = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (s) => `${s.Properties.ScheduleExpression} ${s.Properties.ScheduleExpressionTimezone}`,
    );
    expect(expressions.sort()).toEqual(
      [
        'cron(0 1 * * ? *) UTC',
        'cron(0 13 * * ? *) UTC',
        'cron(15 2 * * ? *) UTC',
        'cron(15 8 * * ? *) UTC',
        'cron(15 14 * * ? *) UTC',
        'cron(15 20 * * ? *) UTC',
        'cron(45 2 * * ? *) UTC',
        'cron(45 14 * * ? *) UTC',
        'cron(30 3 * * ? *) UTC',
        'cron(30 15 * * ? *) UTC',
        'cron(0 9 ? * MON-FRI *) America/New_York',
        'cron(0 23 * * ? *) UTC',
        'rate(5 minutes) Etc/UTC',
      ].sort(),
    );
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'nightshift-dev' });
  });

  it('lets the steward write memory and no agent, and only the embedder write vectors', () => {
    const memoryTable = logicalId(stack.memory.table);
    expect(actionsGranted(template, logicalId(stack.memory.steward.role!), memoryTable)).toContain('dynamodb:PutItem');
    const stewardStatements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: logicalId(stack.memory.steward.role!) }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(stewardStatements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['vec#*'] } } }),
    );
    for (const agent of stack.agents) {
      const actions = actionsGranted(template, logicalId(agent.function.role!), memoryTable);
      expect(actions, agent.agentId).toContain('dynamodb:Query');
      expect(actions.filter((a) => /Put|Update|Delete|Write/.test(a)), agent.agentId).toEqual([]);
    }
  });

  it('lets each agent read only the namespaces it declares, by a dynamodb:LeadingKeys condition on its role', () => {
    const memoryTable = logicalId(stack.memory.table);
    for (const agent of stack.agents) {
      const role = logicalId(agent.function.role!);
      const reads = reference.agents.find((a) => a.id === agent.agentId)!.memory.reads;
      const statements = Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st: { Resource: unknown }) => JSON.stringify(st.Resource).includes(`"${memoryTable}"`));
      // The table's partitions are `mem#<namespace>` (with their vectors `vec#<namespace>`), the context index's the
      // bare names: one statement each, so a bare name never reaches a table partition (the steward's `rejected` records).
      // An agent run by others' outputs also reads the steward's receipts of those agents' updates, GetItem only.
      const upstreams = reference.agents.find((a) => a.id === agent.agentId)!.triggers.flatMap((t) => ('outputsOf' in t ? [t.outputsOf] : []));
      expect(statements.map((st: { Condition: unknown }) => st.Condition), agent.agentId).toEqual([
        { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [...reads.map((n) => `mem#${n}`), ...reads.map((n) => `vec#${n}`)] } },
        { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': reads } },
        ...(upstreams.length ? [{ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': upstreams.map((u) => `receipts#${u}`) } }] : []),
      ]);
      if (upstreams.length) expect(statements[2].Action, agent.agentId).toBe('dynamodb:GetItem');
      expect(JSON.stringify(statements[1].Resource), agent.agentId).toContain('/index/context');
    }
    // Who reads what in the reference pipeline: the planner never reads the community's posts.
    expect(reference.agents.find((a) => a.id === 'planner')!.memory.reads).not.toContain('community');
  });

  it('tells the steward each agent by the role id it sends with, the namespaces it writes, those it may pin in and its hourly quota', () => {
    const steward = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'steward',
    )!;
    // The value is a Fn::Join of JSON text around each role's RoleId: put the role's logical id in its place, then read it.
    const parts: unknown[] = steward.Properties.Environment.Variables.NIGHTSHIFT_WRITERS['Fn::Join'][1];
    const text = parts.map((p) => (typeof p === 'string' ? p : `<${(p as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]}>`)).join('');
    expect(JSON.parse(text)).toEqual(
      stack.agents.map((agent) => ({
        principal: `<${logicalId(agent.function.role!)}>`,
        agentId: agent.agentId,
        writes: reference.agents.find((a) => a.id === agent.agentId)!.memory.writes,
        pins: agent.agentId === 'planner' ? ['rules'] : [],
        updatesPerHour: reference.agents.find((a) => a.id === agent.agentId)!.memory.maxUpdatesPerHour,
        // Receipts of its updates for an agent others run on: their runs wait for them.
        ...(reference.agents.some((a) => a.triggers.some((t) => 'outputsOf' in t && t.outputsOf === agent.agentId)) ? { receipts: true } : {}),
      })),
    );
    expect(parts.filter((p) => typeof p !== 'string').every((p) => (p as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][1] === 'RoleId')).toBe(true);
  });

  it('lets each agent enqueue updates, use its own coordination and counter items, and ask the breaker function: never alert', () => {
    for (const agent of stack.agents) {
      const role = logicalId(agent.function.role!);
      expect(actionsGranted(template, role, logicalId(stack.memory.queue))).toContain('sqs:SendMessage');
      expect(actionsGranted(template, role, logicalId(stack.coordination.table))).toContain('dynamodb:PutItem');
      expect(actionsGranted(template, role, logicalId(stack.breaker.table))).toContain('dynamodb:UpdateItem');
      expect(actionsGranted(template, role, logicalId(stack.breaker.topic))).toEqual([]);
      expect(actionsGranted(template, role, logicalId(stack.breakerAuthority.aliasFor(agent.agentId)))).toEqual(['lambda:InvokeFunction']);
    }
  });

  it('grants no wildcard actions anywhere', () => {
    const actions = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('tells agents where everything is', () => {
    const planner = stack.agents[0]!;
    const variables = template.findResources('AWS::Lambda::Function')[logicalId(planner.function)]!.Properties
      .Environment.Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        'COORDINATION_TABLE',
        'MEMORY_TABLE',
        'MEMORY_QUEUE_URL',
        'COUNTER_TABLE',
        'BREAKER_FUNCTION',
        'NIGHTSHIFT_AGENT_SPEC',
      ]),
    );
    // Nothing an agent could alert or switch schedules with.
    expect(Object.keys(variables)).not.toContain('ALERT_TOPIC_ARN');
    expect(Object.keys(variables)).not.toContain('SCHEDULE_GROUP');
    expect(variables.BREAKER_FUNCTION).toEqual({ Ref: logicalId(stack.breakerAuthority.aliasFor(planner.agentId)) });
    expect(variables.MEMORY_TABLE).toEqual({ Ref: logicalId(stack.memory.table) });
  });

  it('keeps the logical id of every stateful resource: a changed id makes CloudFormation replace it, losing its data', () => {
    const stateful = /^AWS::(DynamoDB::Table|SQS::Queue|SNS::Topic|KMS::Key|Scheduler::ScheduleGroup|Logs::LogGroup)$/;
    const ids = Object.entries(template.toJSON().Resources as Record<string, { Type: string }>)
      .filter(([, r]) => stateful.test(r.Type))
      .map(([id, r]) => `${r.Type} ${id}`)
      .sort();
    // Copied from the template as of 2026-11-26 (2026-12-02: the redrive, breaker, watch and relay functions' log groups and the pager and delivery failure queues
    // added; the topic's key gone with monitoring: 'watch', which encrypts it with SNS's AWS managed key, new: nothing
    // replaced; 2026-12-06: each agent's own dead-letter queue added, nothing replaced). Change it only together with a
    // migration note in the README.
    expect(ids).toEqual(
      [
        'AWS::DynamoDB::Table BreakerTable68DCABCD',
        'AWS::DynamoDB::Table CoordinationTableB8240530',
        'AWS::DynamoDB::Table MemoryTable2F605A68',
        'AWS::Logs::LogGroup AgentanalystFunctionLogsE8F877A8',
        'AWS::Logs::LogGroup AgentcommunityFunctionLogs19099DED',
        'AWS::Logs::LogGroup AgentplannerFunctionLogsA766710A',
        'AWS::Logs::LogGroup AgentseoFunctionLogs00DFEADB',
        'AWS::Logs::LogGroup AgentwriterFunctionLogs3FD87048',
        'AWS::Logs::LogGroup BreakerPagerForwarderLogs481E3ABA',
        'AWS::Logs::LogGroup MemoryStewardLogs14B7FC1C',
        'AWS::Logs::LogGroup WatchAlarmRelayLogsF430BA51',
        'AWS::Logs::LogGroup WatchFunctionLogs80146208',
        'AWS::Logs::LogGroup MemoryEmbedderFunctionLogs3815BFC1',
        'AWS::Logs::LogGroup MemoryRedriveLogsFE44612D',
        'AWS::Logs::LogGroup BreakerAuthorityFunctionLogs1940EF61',
        'AWS::SNS::Topic BreakerAlertTopic67DED1FF',
        'AWS::SQS::Queue AgentanalystDeadLetterQueue879D28FD',
        'AWS::SQS::Queue AgentcommunityDeadLetterQueue128E830A',
        'AWS::SQS::Queue AgentplannerDeadLetterQueue27126325',
        'AWS::SQS::Queue AgentseoDeadLetterQueueA6AD8210',
        'AWS::SQS::Queue AgentwriterDeadLetterQueueEE4E9DAB',
        'AWS::SQS::Queue BreakerPagerFailures29DCECE4',
        'AWS::SQS::Queue BreakerDeliveryFailuresDE49AE0F',
        'AWS::SQS::Queue MemoryDeadLetterQueueBFA0708D',
        'AWS::SQS::Queue MemoryEmbedderFailuresA76CA7A4',
        'AWS::SQS::Queue MemoryQueueF0F60D00',
        'AWS::SQS::Queue ScheduleDeadLetterQueue0D6B48D2',
        'AWS::Scheduler::ScheduleGroup ScheduleGroup4D377372',
      ].sort(),
    );
  });

  it('lets only the agents and the redrive send to the memory queue, whatever else the account allows', () => {
    const senders = [...stack.agents.map((a) => logicalId(a.function.role!)), logicalId(stack.memory.redrive.role!)].sort();
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: logicalId(stack.memory.queue) }]));
    const deny = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).find((st: { Sid?: string }) => st.Sid === 'OnlyAgentsAndRedriveSend');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:SendMessage' });
    const allowed = (deny.Condition.ArnNotEquals['aws:PrincipalArn'] as { 'Fn::GetAtt': string[] }[]).map((arn) => arn['Fn::GetAtt'][0]).sort();
    expect(allowed).toEqual(senders);
  });

  it('tells the steward the redrive role: the one sender whose redrive attributes it believes', () => {
    const steward = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'steward')!;
    expect(steward.Properties.Environment.Variables.NIGHTSHIFT_REDRIVER).toEqual({ 'Fn::GetAtt': [logicalId(stack.memory.redrive.role!), 'RoleId'] });
  });

  it('gives the community agent alone its bot token by name (never its value) and its channel variable', () => {
    const community = stack.agents.find((a) => a.agentId === 'community')!;
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(community.function)]!;
    expect(fn.Properties.Environment.Variables.DISCORD_CHANNEL_ID).toBe('1100000000000000000');
    expect(JSON.stringify(template.toJSON())).not.toContain('local-only-token');
    const readers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.PolicyDocument.Statement.some((st: { Action: unknown }) => JSON.stringify(st.Action).includes('ssm:GetParameter') && JSON.stringify(st).includes('discord-bot-token')))
      .map((p) => p.Properties.Roles[0].Ref);
    expect(readers).toEqual([logicalId(community.function.role!)]);
  });

  it('exports what the ops CLI needs as stack outputs', () => {
    for (const name of ['CoordinationTableName', 'MemoryTableName', 'MemoryQueueUrl', 'CounterTableName', 'AlertTopicArn']) {
      template.hasOutput(name, {});
    }
  });
});

describe('NightshiftStack breaker permissions', () => {
  it('lets the breaker function, and no agent, read and update exactly the pipeline schedules, and pass only the schedule role to Scheduler', () => {
    const statementsOf = (role: string) =>
      Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const statements = statementsOf(logicalId(stack.breakerAuthority.function.role!));
    const schedules = statements.find((s) => JSON.stringify(s.Action) === JSON.stringify(['scheduler:GetSchedule', 'scheduler:UpdateSchedule']));
    expect(schedules.Resource).toHaveLength(12);
    expect(JSON.stringify(schedules.Resource)).toContain(':schedule/nightshift-dev/planner-0"');
    expect(JSON.stringify(schedules.Resource)).toContain(':schedule/nightshift-dev/community-2"');
    const passRole = statements.find((s) => s.Action === 'iam:PassRole');
    expect(passRole).toMatchObject({
      Resource: { 'Fn::GetAtt': [logicalId(stack.schedules.role), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    });
    for (const agent of stack.agents) {
      const actions = statementsOf(logicalId(agent.function.role!)).flatMap((s) => [s.Action].flat());
      expect(actions.filter((a: string) => a.startsWith('scheduler:') || a === 'iam:PassRole' || a.startsWith('sns:')), agent.agentId).toEqual([]);
    }
  });

  it('invokes every agent through the one schedule role', () => {
    template.resourcePropertiesCountIs(
      'AWS::Scheduler::Schedule',
      { Target: Match.objectLike({ RoleArn: { 'Fn::GetAtt': [logicalId(stack.schedules.role), 'Arn'] } }) },
      13,
    );
  });

  it('adds a breaker watchdog only when a cool-down is configured', () => {
    expect(stack.breakerWatchdog).toBeUndefined();
    const cooled = addNightshiftPipeline(testApp(), { ...reference, breaker: { ...reference.breaker, coolDownMinutes: 30 } });
    const cooledTemplate = Template.fromStack(cooled);
    cooledTemplate.resourceCountIs('AWS::Lambda::Function', 13); // and the watchdog
    cooledTemplate.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)', GroupName: Match.absent() });
  });
});

describe('reserved concurrency', () => {
  const reservedOf = (t: Template) =>
    Object.fromEntries(
      Object.values(t.findResources('AWS::Lambda::Function'))
        .filter((f) => f.Properties.ReservedConcurrentExecutions !== undefined)
        .map((f) => [f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string, f.Properties.ReservedConcurrentExecutions as number]),
    );

  it('holds concurrency for the watch, the pager path, the breaker function and the steward, and caps the steward’s event source', () => {
    expect(reservedOf(template)).toEqual({ watch: 2, 'alarm-relay': 2, 'pager-forwarder': 2, breaker: 10, steward: 5 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 5 } });
    // No agent is reserved or capped: an agent's concurrency is its own to spend.
    for (const agent of stack.agents) expect(Template.fromStack(stack).toJSON().Resources[logicalId(agent.function)].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('reserves nothing with reservedConcurrency: false (an account whose limit is below 100 cannot reserve any)', () => {
    const none = Template.fromStack(addNightshiftPipeline(testApp(), { ...reference, reservedConcurrency: false }));
    expect(reservedOf(none)).toEqual({});
    none.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: Match.absent() });
  });
});

describe('cdk-nag AwsSolutions and Serverless checks', () => {
  it('pass for the reference pipeline', () => {
    const checked = testApp();
    addNightshiftPipeline(checked, reference);
    expect(() => checked.synth()).not.toThrow();
  });

  it('fail the synth on an unacknowledged finding', () => {
    const checked = testApp();
    const nightshift = addNightshiftPipeline(checked, reference);
    new sqs.Queue(Stack.of(nightshift), 'UnsafeQueue');
    expect(() => checked.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  it('fail the synth on a Serverless finding too: an asynchronously invoked function without a dead-letter queue', () => {
    const checked = testApp();
    const nightshift = addNightshiftPipeline(checked, reference);
    const fn = new lambda.Function(Stack.of(nightshift), 'Unguarded', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
    expect(fn.node.path).toContain('Unguarded');
    expect(() => checked.synth()).toThrow(/Serverless-LambdaDLQ/);
  });

  it('in a stack of the user’s own, check Nightshift’s resources and never the user’s', () => {
    const checked = testApp();
    const stack = new Stack(checked, 'UserStack');
    const nightshift = new NightshiftPipeline(stack, 'Pipeline', { pipeline: reference });
    new sqs.Queue(stack, 'UsersOwnQueue'); // no SSL enforcement: AwsSolutions-SQS4, but the user's to decide
    expect(() => checked.synth()).not.toThrow();
    new sqs.Queue(nightshift, 'Unguarded'); // the same finding inside the pipeline construct fails, by rule and path
    expect(() => checked.synth({ force: true })).toThrow(/AwsSolutions-SQS4[\s\S]*UserStack\/Pipeline\/Unguarded/);
  });

  it('check two pipelines in one app, each with its own findings', () => {
    const checked = testApp();
    const first = new NightshiftPipeline(new Stack(checked, 'First'), 'Pipeline', { pipeline: reference });
    const second = new NightshiftPipeline(new Stack(checked, 'Second'), 'Pipeline', { pipeline: { ...reference, stage: 'prod' } });
    new sqs.Queue(first, 'A');
    new sqs.Queue(second, 'B');
    expect(() => checked.synth()).toThrow(/First\/Pipeline\/A[\s\S]*Second\/Pipeline\/B|Second\/Pipeline\/B[\s\S]*First\/Pipeline\/A/);
  });

  it('lets each agent invoke exactly its configured model on Bedrock, through its inference profile only, and nothing else there', () => {
    const titan = `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":bedrock:",{"Ref":"AWS::Region"},"::foundation-model/amazon.titan-embed-text-v2:0"]]}`;
    const invoke = new Map<string, { resources: string[]; condition?: unknown }[]>();
    const embeds = new Set<string>();
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        const actions: string[] = [statement.Action].flat();
        if (!actions.some((a) => a.startsWith('bedrock:'))) continue;
        expect(actions).toEqual(['bedrock:InvokeModel']);
        const role: string = policy.Properties.Roles[0].Ref;
        let resources = [statement.Resource].flat().map((r: unknown) => JSON.stringify(r));
        if (resources.includes(titan)) {
          // The embedding model, never under a condition (IAM may merge it with the agent's own model's statement).
          expect(statement.Condition).toBeUndefined();
          embeds.add(role);
          resources = resources.filter((r) => r !== titan);
          if (resources.length === 0) continue;
        }
        invoke.set(role, [...(invoke.get(role) ?? []), { resources, condition: statement.Condition }]);
      }
    }
    const roleOf = (agentId: string) => logicalId(stack.agents.find((a) => a.agentId === agentId)!.function.role!);
    // Embeddings: the embedder (entries, from the table's stream) and each agent that reads memory (its queries),
    // and no one else: the steward never calls a model.
    expect([...embeds].sort()).toEqual(
      [logicalId(stack.memory.embedder!.function.role!), ...reference.agents.filter((a) => a.memory.reads.length > 0).map((a) => roleOf(a.id))].sort(),
    );
    expect([...invoke.keys()].sort()).toEqual(reference.agents.filter((a) => a.model).map((a) => roleOf(a.id)).sort());
    const haiku = (region: string) => `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":bedrock:${region}::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"]]}`;
    const profiles = template.findResources('AWS::Bedrock::ApplicationInferenceProfile');
    const ownProfile = (agentId: string) => {
      const id = logicalId(stack.agents.find((a) => a.agentId === agentId)!.modelProfile!);
      expect(profiles[id]!.Properties.Tags).toEqual([{ Key: 'nightshift:agent', Value: agentId }]);
      return { id, arn: JSON.stringify({ 'Fn::GetAtt': [id, 'InferenceProfileArn'] }), copyFrom: JSON.stringify(profiles[id]!.Properties.ModelSource.CopyFrom) };
    };
    // One profile per agent with a model, each its own.
    expect(Object.keys(profiles)).toHaveLength(reference.agents.filter((a) => a.model).length);
    // A foundation model: its own profile, and the model in the stack's region only in that profile's name.
    const planner = ownProfile('planner');
    const regional = `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":bedrock:",{"Ref":"AWS::Region"},"::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"]]}`;
    expect(planner.copyFrom).toBe(regional);
    expect(invoke.get(roleOf('planner'))).toEqual([
      { resources: [planner.arn], condition: undefined },
      { resources: [regional], condition: JSON.parse(`{"StringEquals":{"bedrock:InferenceProfileArn":${planner.arn}}}`) },
    ]);
    // A cross-region profile: its own profile copies it; the shared profile and the model in each destination region
    // only in the agent's profile's name. Calling either directly, in any region, is denied.
    const writer = ownProfile('writer');
    const [own, routed] = invoke.get(roleOf('writer'))!;
    const systemProfile = `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":bedrock:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"]]}`;
    expect(writer.copyFrom).toBe(systemProfile);
    expect(own).toEqual({ resources: [writer.arn], condition: undefined });
    expect(routed!.resources).toEqual([
      systemProfile,
      ...['us-east-1', 'us-east-2', 'us-west-2'].map((region) => haiku(region).replace('anthropic.claude-3-5-haiku-20241022-v1:0', 'anthropic.claude-3-7-sonnet-20250219-v1:0')),
    ]);
    expect(JSON.stringify(routed!.condition)).toBe(`{"StringEquals":{"bedrock:InferenceProfileArn":${writer.arn}}}`);
    // Names and descriptions Bedrock accepts, unique, and new when the model changes (CloudFormation replaces a
    // profile on any change and cannot replace a named resource under its old name).
    for (const profile of Object.values(profiles)) {
      expect(profile.Properties.InferenceProfileName).toMatch(/^([0-9a-zA-Z][ _-]?)+$/);
      expect(profile.Properties.InferenceProfileName.length).toBeLessThanOrEqual(64);
      expect(profile.Properties.Description).toMatch(/^([0-9a-zA-Z:.][ _-]?)+$/);
    }
    expect(new Set(Object.values(profiles).map((p) => p.Properties.InferenceProfileName)).size).toBe(Object.keys(profiles).length);
    const renamed = Template.fromStack(
      addNightshiftPipeline(testApp(), { ...reference, agents: reference.agents.map((a) => (a.id === 'planner' ? { ...a, model: { ...a.model!, id: 'anthropic.claude-3-haiku-20240307-v1:0' } } : a)) }),
    ).findResources('AWS::Bedrock::ApplicationInferenceProfile');
    expect(renamed[planner.id]!.Properties.InferenceProfileName).not.toBe(profiles[planner.id]!.Properties.InferenceProfileName);
    // The agent's calls go to its profile: its ARN is in the function's environment.
    const fn = template.toJSON().Resources[logicalId(stack.agents.find((a) => a.agentId === 'writer')!.function)];
    expect(JSON.stringify(fn.Properties.Environment.Variables.NIGHTSHIFT_MODEL_PROFILE_ARN)).toBe(writer.arn);
  });

  it('traces with X-Ray only when the config asks: active tracing and the Powertools Tracer switch on every function', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    for (const fn of functions) {
      expect(fn.Properties.TracingConfig).toBeUndefined();
      expect(fn.Properties.Environment.Variables.NIGHTSHIFT_TRACING).toBeUndefined();
    }
    const traced = Template.fromStack(addNightshiftPipeline(testApp(), { ...reference, stage: 'traced', tracing: true }));
    const tracedFunctions = Object.values(traced.findResources('AWS::Lambda::Function'));
    expect(tracedFunctions).toHaveLength(functions.length);
    for (const fn of tracedFunctions) {
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Environment.Variables.NIGHTSHIFT_TRACING).toBe('true');
    }
    // The X-Ray grant (which cannot name a resource) is a policy of its own per function, holding nothing else.
    const xray = Object.values(traced.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('xray:'));
    expect(xray).toHaveLength(functions.length);
    for (const policy of xray) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual([
        { Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Effect: 'Allow', Resource: '*' },
      ]);
    }
  });
});
