import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app.ts';
import reference from '../../nightshift.config.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { logicalId, testApp } from '../support/template.ts';

const stack = addNightshiftPipeline(testApp(), reference);
const template = Template.fromStack(stack);
const fnOf = (id: string) => stack.agents.find((a) => a.agentId === id)!.function;

describe('trigger routes in the synthesized stack', () => {
  it('routes each output of an agent to the agents that trigger on it: one rule each, on the pipeline bus, with retries and the triggered agent’s own DLQ', () => {
    const bus = logicalId(stack.triggers!.bus);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'nightshift-dev' });
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    const routes = rules.map((r) => ({
      pattern: r.Properties.EventPattern,
      bus: r.Properties.EventBusName,
      target: r.Properties.Targets[0].Arn['Fn::GetAtt'][0],
      retry: r.Properties.Targets[0].RetryPolicy,
      dlq: r.Properties.Targets[0].DeadLetterConfig.Arn['Fn::GetAtt'][0],
    }));
    // The triggered agent's own dead-letter queue, which the watch pages on for that agent alone.
    const dlqOf = (agentId: string) => logicalId(stack.agents.find((a) => a.agentId === agentId)!.deadLetterQueue as never);
    expect(routes).toEqual(
      [
        ['planner', 'writer'],
        ['writer', 'seo'],
        ['seo', 'community'],
      ].map(([from, to]) => ({
        pattern: { source: [`nightshift.agent.${from}`], 'detail-type': ['Output published'] },
        bus: { Ref: bus },
        target: logicalId(fnOf(to!)),
        retry: { MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 8 },
        dlq: dlqOf(to!),
      })),
    );
    // EventBridge may invoke each triggered function, and send what it gives up on to the DLQ, and nothing else.
    for (const to of ['writer', 'seo', 'community']) {
      template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [logicalId(fnOf(to)), 'Arn'] } });
    }
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'sqs:SendMessage', Principal: { Service: 'events.amazonaws.com' } })]) },
    });
  });

  it('lets an agent others run on put only its own outputs on the bus, and gives it the bus name; the others neither', () => {
    const bus = logicalId(stack.triggers!.bus);
    const putters = new Map<string, unknown>();
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        if ([statement.Action].flat().some((a: string) => a.startsWith('events:'))) {
          expect(statement.Action).toBe('events:PutEvents');
          expect(statement.Resource).toEqual({ 'Fn::GetAtt': [bus, 'Arn'] });
          putters.set(policy.Properties.Roles[0].Ref, statement.Condition);
        }
      }
    }
    const roleOf = (id: string) => logicalId(fnOf(id).role!);
    expect([...putters.keys()].sort()).toEqual(['planner', 'writer', 'seo'].map(roleOf).sort());
    for (const id of ['planner', 'writer', 'seo']) {
      expect(putters.get(roleOf(id))).toEqual({ StringEquals: { 'events:source': `nightshift.agent.${id}`, 'events:detail-type': 'Output published' } });
    }
    const environment = (id: string) => Object.values(template.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === id)!.Properties.Environment.Variables;
    expect(environment('planner').NIGHTSHIFT_EVENT_BUS).toEqual({ Ref: bus });
    expect(environment('community').NIGHTSHIFT_EVENT_BUS).toBeUndefined();
  });

  it('routes outside events from the pipeline bus or the default bus, and adds no bus to a pipeline without triggers', () => {
    const desk = definePipeline({
      name: 'desk',
      stage: 'test',
      agents: [
        { id: 'intake', entry: 'examples/agents/note-taker.ts', breaker: { maxOutputs: 3, windowMinutes: 60 }, triggers: [{ event: { source: ['tickets'], detailType: ['Ticket opened'] } }] },
        { id: 'files', entry: 'examples/agents/note-taker.ts', breaker: { maxOutputs: 3, windowMinutes: 60 }, triggers: [{ event: { source: ['aws.s3'], bus: 'default' } }] },
      ],
      breaker: { maxOutputs: 10, windowMinutes: 60 },
    });
    const t = Template.fromStack(addNightshiftPipeline(testApp(), desk));
    const rules = Object.values(t.findResources('AWS::Events::Rule')).map((r) => [r.Properties.EventPattern, r.Properties.EventBusName]);
    expect(rules).toEqual([
      [{ source: ['tickets'], 'detail-type': ['Ticket opened'] }, expect.objectContaining({ Ref: expect.any(String) })],
      [{ source: ['aws.s3'] }, undefined],
    ]);
    // Nobody publishes outputs to anyone: no agent may put events.
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('events:PutEvents');
    const none = definePipeline({ name: 'plain', stage: 'test', agents: [{ id: 'a', entry: 'examples/agents/note-taker.ts', schedules: [{ cron: '0 1 * * *' }], breaker: { maxOutputs: 1, windowMinutes: 60 } }], breaker: { maxOutputs: 1, windowMinutes: 60 } });
    Template.fromStack(addNightshiftPipeline(testApp(), none)).resourceCountIs('AWS::Events::EventBus', 0);
  });

  it("holds the bus's own policy: an agent's output source only from its role, no other nightshift source, nothing from another account", () => {
    const bus = logicalId(stack.triggers!.bus);
    const statements = template.toJSON().Resources[bus].Properties.Policy.Statement as Record<string, unknown>[];
    expect(statements).toHaveLength(5);
    const roleArn = (id: string) => ({ 'Fn::GetAtt': [logicalId(fnOf(id).role!), 'Arn'] });
    // A small evaluator for exactly what these statements use: a Deny whose every condition holds denies.
    const denied = (request: { principalArn: unknown; account: unknown; source: string }) =>
      statements.some((st) => {
        expect(st).toMatchObject({ Effect: 'Deny', Action: 'events:PutEvents', Principal: { AWS: '*' }, Resource: expect.anything() });
        return Object.entries(st.Condition as Record<string, Record<string, unknown>>).every(([op, test]) =>
          Object.entries(test).every(([key, expected]) => {
            const actual = key === 'events:source' ? request.source : key === 'aws:PrincipalArn' ? request.principalArn : key === 'aws:PrincipalAccount' ? request.account : undefined;
            const values = [expected].flat();
            const equal = values.some((v) => JSON.stringify(v) === JSON.stringify(actual));
            if (op === 'StringEquals') return equal;
            if (op === 'StringNotEquals' || op === 'ArnNotEquals') return !equal;
            if (op === 'StringLike') return values.some((v) => new RegExp(`^${String(v).replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`).test(String(actual)));
            throw new Error(`unexpected condition ${op}`);
          }),
        );
      });
    // The stack's account as the template writes it (a token without an env): what a caller in the account has.
    const inAccount = stack.resolve(stack.account) as unknown as string;
    const asAccount = (principalArn: unknown, source: string) => ({ principalArn, account: inAccount, source });
    // Legitimate: each agent others run on puts its own outputs; an operator puts an outside event.
    for (const id of ['planner', 'writer', 'seo']) expect(denied(asAccount(roleArn(id), `nightshift.agent.${id}`))).toBe(false);
    expect(denied(asAccount('arn:aws:iam::123456789012:role/operator', 'tickets'))).toBe(false);
    // Hostile: another agent's source from any other role (an agent's, an operator's with events:*), a made-up
    // nightshift source, and anything from another account.
    expect(denied(asAccount(roleArn('writer'), 'nightshift.agent.planner'))).toBe(true);
    expect(denied(asAccount(roleArn('community'), 'nightshift.agent.seo'))).toBe(true);
    expect(denied(asAccount('arn:aws:iam::123456789012:role/operator', 'nightshift.agent.writer'))).toBe(true);
    expect(denied(asAccount(roleArn('community'), 'nightshift.agent.community'))).toBe(true);
    expect(denied(asAccount(roleArn('planner'), 'nightshift.breaker'))).toBe(true);
    expect(denied({ principalArn: 'arn:aws:iam::210987654321:role/outsider', account: '210987654321', source: 'tickets' })).toBe(true);
  });
});

describe('the bus policy at scale', () => {
  const chain = (n: number) =>
    definePipeline({
      name: 'long',
      stage: 'test',
      agents: Array.from({ length: n + 1 }, (_, i) => ({
        id: `agent-${i}`,
        entry: 'examples/agents/note-taker.ts',
        breaker: { maxOutputs: 3, windowMinutes: 60 },
        ...(i === 0 ? { schedules: [{ cron: '0 1 * * *' }] } : { triggers: [{ outputsOf: `agent-${i - 1}` }] }),
      })),
      breaker: { maxOutputs: 100, windowMinutes: 60 },
    });

  it("fits EventBridge's 10 KB for a chain of 15 publishing agents, and refuses one past it at synth, naming the limit", () => {
    expect(() => addNightshiftPipeline(testApp(), chain(15))).not.toThrow();
    expect(() => addNightshiftPipeline(testApp(), chain(40))).toThrow(/40 agents publish outputs others run on; the bus policy .* past EventBridge's 10240/);
  });
});
