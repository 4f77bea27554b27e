import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app.ts';
import { LOCAL_ALERT_TOPIC, LOCAL_SCHEDULE_ROLE } from '../../local/side-effects.ts';
import reference from '../../nightshift.config.ts';
import type { AwsCall } from '../../src/runtime/aws-calls.ts';
import { reviewPipeline } from '../fixtures/review-pipeline.ts';
import { checkCalls, resourceMap } from '../support/iam.ts';
import { logicalId, testApp } from '../support/template.ts';

/**
 * An attacker holding one agent's role and calling AWS directly: every request below is evaluated against the
 * policies the synthesized stack attaches to that role. The hostile ones (each a hole a review found) must be
 * denied for every agent; the legitimate ones, what the agent's own runs need, allowed.
 */
const stack = addNightshiftPipeline(testApp(), reference);
const template = Template.fromStack(stack);
const map = resourceMap(stack, 'nightshift-dev');
const tables = map.tables;
const slot = '2026-11-25T03:00:00.000Z';
const ddb = (action: string, table: keyof typeof tables, key: string, index?: string): AwsCall => ({
  service: 'dynamodb',
  action,
  resource: `table/${tables[table]}${index ? `/index/${index}` : ''}`,
  leadingKeys: [key],
});

const putEvents = (source: string, detailType: string): AwsCall => ({
  service: 'events',
  action: 'PutEvents',
  resource: 'event-bus/pipeline',
  context: { 'events:source': source, 'events:detail-type': detailType },
});

function hostile(agentId: string, other: string): [string, AwsCall][] {
  const config = reference.agents.find((a) => a.id === agentId)!;
  const calls: [string, AwsCall][] = [
    ["rewrite another agent's schedule", { service: 'scheduler', action: 'UpdateSchedule', resource: `schedule/nightshift-dev/${other}-0` }],
    ['disable or re-enable its own schedule', { service: 'scheduler', action: 'UpdateSchedule', resource: `schedule/nightshift-dev/${agentId}-0` }],
    ['pass the schedule role', { service: 'iam', action: 'PassRole', resource: LOCAL_SCHEDULE_ROLE }],
    ['publish a fake alert', { service: 'sns', action: 'Publish', resource: LOCAL_ALERT_TOPIC }],
    ['reset the breaker or lower the pipeline window', ddb('UpdateItem', 'counters', 'breaker')],
    ["take another agent's content claims", ddb('UpdateItem', 'counters', `outputs#${other}`)],
    ["spend another agent's budget", ddb('UpdateItem', 'counters', `tokens#${other}`)],
    ["use up another agent's hourly limit of outside events", ddb('UpdateItem', 'counters', `events#${other}`)],
    // Lost invocations: faking another agent's would keep its incident open, so its real losses never page again.
    ["fake another agent's lost invocation", { service: 'sqs', action: 'SendMessage', resource: `queue/nightshift-dev-lost-invocations-${other}` }],
    ["fake a lost invocation of the pipeline's own functions", { service: 'sqs', action: 'SendMessage', resource: 'queue/nightshift-dev-lost-invocations' }],
    // The breaker function's own count of each agent: what a count request is checked against.
    ['lower its own count as the breaker function keeps it', ddb('UpdateItem', 'counters', `verified#${agentId}`)],
    ["fill another agent's count as the breaker function keeps it", ddb('UpdateItem', 'counters', `verified#${other}`)],
    // Held outputs: only the breaker function holds one (after counting it), only a person or expiry decides.
    ['approve or reject its own held output', ddb('UpdateItem', 'counters', `held#${agentId}`)],
    ['hold an output the breaker never counted', ddb('PutItem', 'counters', `held#${agentId}`)],
    ["read another agent's held outputs", ddb('Query', 'counters', `held#${other}`)],
    ["forge another agent's heartbeat", ddb('PutItem', 'coordination', `heartbeat#${other}`)],
    ["fake another agent's run", ddb('PutItem', 'coordination', `runs#${other}`)],
    ["complete another agent's slot", ddb('UpdateItem', 'coordination', `lock#${other}@${slot}`)],
    ['delete its own lock', ddb('DeleteItem', 'coordination', `lock#${agentId}@${slot}`)],
    ["ask the breaker in another agent's name", { service: 'lambda', action: 'InvokeFunction', resource: `function/breaker:${other}` }],
    ['invoke the breaker function without an alias', { service: 'lambda', action: 'InvokeFunction', resource: 'function/breaker' }],
    ["read the steward's rejection records", ddb('Query', 'memory', `rejected#${agentId}`)],
    ["read the steward's rejection records of senders that are no agent", ddb('GetItem', 'memory', 'rejected#unknown')],
    ["write memory itself", ddb('PutItem', 'memory', `mem#${config.memory.writes[0] ?? 'drafts'}`)],
    // Receipts: the steward's record of what it settled, which a triggered run waits on before reading memory.
    ['settle its own updates in a receipt', ddb('UpdateItem', 'memory', `receipts#${agentId}`)],
    ["settle another agent's updates in a receipt", ddb('UpdateItem', 'memory', `receipts#${other}`)],
    ...reference.agents
      .filter((a) => a.id !== agentId && !config.triggers.some((t) => 'outputsOf' in t && t.outputsOf === a.id))
      .slice(0, 1)
      .map((a): [string, AwsCall] => [`read the receipts of ${a.id}, whose outputs do not run it`, ddb('GetItem', 'memory', `receipts#${a.id}`)]),
    // The watch's own state: resolving its silence would hide it; resetting the watch's memory would re-page.
    ['resolve or open an incident', ddb('UpdateItem', 'coordination', `incident#silent:${agentId}`)],
    ['read the incidents', ddb('BatchGetItem', 'coordination', `incident#silent:${other}`)],
    ["rewrite the watch's state", ddb('PutItem', 'coordination', 'watch#state')],
    // Entry vectors: the steward's to write; a reader's only for the namespaces it reads.
    ['plant a vector that would rank an entry for any task', ddb('PutItem', 'memory', `vec#${config.memory.reads[0] ?? 'drafts'}`)],
    ...(['community', 'plans', 'drafts', 'rules'].filter((ns) => !config.memory.reads.includes(ns)).slice(0, 1).map((ns): [string, AwsCall] => [`read the vectors of namespace ${ns}, which it does not read`, ddb('Query', 'memory', `vec#${ns}`)])),
    ['call another model on the embedding grant', { service: 'bedrock', action: 'InvokeModel', resource: 'model/amazon.titan-embed-image-v1' }],
    // The bus: an output event in another agent's name would run that agent's downstream as if it had published.
    ["publish an output in another agent's name", putEvents(`nightshift.agent.${other}`, 'Output published')],
    ['put an outside event that triggers agents', putEvents('tickets', 'Ticket opened')],
    ['put events on the default bus', { ...putEvents(`nightshift.agent.${agentId}`, 'Output published'), resource: 'event-bus/default' }],
  ];
  if (config.model) {
    // Its model only through its own application inference profile, whose Bedrock metrics count every token.
    calls.push(['call its model directly, around its own inference profile', { service: 'bedrock', action: 'InvokeModel', resource: `model/${config.model.id}` }]);
    calls.push(["call its model through another agent's inference profile", { service: 'bedrock', action: 'InvokeModel', resource: `model-profile/${other}/${config.model.id}` }]);
  }
  return calls;
}

function legitimate(agentId: string): [string, AwsCall][] {
  const config = reference.agents.find((a) => a.id === agentId)!;
  return [
    ['take its own slot lock', ddb('UpdateItem', 'coordination', `lock#${agentId}@${slot}`)],
    ['beat its own heartbeat', ddb('PutItem', 'coordination', `heartbeat#${agentId}`)],
    ['record its own run', ddb('PutItem', 'coordination', `runs#${agentId}`)],
    ...config.upstream.map((id): [string, AwsCall] => [`read ${id}'s heartbeat`, ddb('GetItem', 'coordination', `heartbeat#${id}`)]),
    ['read the breaker state', ddb('GetItem', 'counters', 'breaker')],
    ["claim its own outputs' contents", ddb('UpdateItem', 'counters', `outputs#${agentId}`)],
    ['spend its own budget', ddb('UpdateItem', 'counters', `tokens#${agentId}`)],
    ['count the runs its outside-event triggers start', ddb('UpdateItem', 'counters', `events#${agentId}`)],
    ['ask the breaker through its own alias', { service: 'lambda', action: 'InvokeFunction', resource: `function/breaker:${agentId}` }],
    ['submit a memory update', { service: 'sqs', action: 'SendMessage', resource: 'queue/nightshift-dev-memory.fifo' }],
    // Lambda sends a run that failed its retries to the function's dead-letter queue with the function's own role.
    ['keep its own failed runs', { service: 'sqs', action: 'SendMessage', resource: `queue/nightshift-dev-lost-invocations-${agentId}` }],
    ...config.memory.reads.map((ns): [string, AwsCall] => [`read namespace ${ns}`, ddb('GetItem', 'memory', `mem#${ns}`)]),
    ...config.memory.reads.map((ns): [string, AwsCall] => [`read the vectors of namespace ${ns}`, ddb('Query', 'memory', `vec#${ns}`)]),
    ...(reference.agents.some((a) => a.triggers.some((t) => 'outputsOf' in t && t.outputsOf === agentId))
      ? [['put its own outputs on the bus, for the agents they trigger', putEvents(`nightshift.agent.${agentId}`, 'Output published')] as [string, AwsCall]]
      : []),
    ...config.triggers.flatMap((t): [string, AwsCall][] => ('outputsOf' in t ? [[`read the steward's receipts of ${t.outputsOf}, whose outputs run it`, ddb('GetItem', 'memory', `receipts#${t.outputsOf}`)]] : [])),
    ...(config.memory.reads.length > 0 ? [['embed its query', { service: 'bedrock', action: 'InvokeModel', resource: 'model/amazon.titan-embed-text-v2:0' }] as [string, AwsCall]] : []),
    ...(config.model ? [['call its model through its own inference profile', { service: 'bedrock', action: 'InvokeModel', resource: `model-profile/${agentId}/${config.model.id}` }] as [string, AwsCall]] : []),
  ];
}

const verdict = (agentId: string, call: AwsCall) => {
  const fn = `agent/${agentId}`;
  return checkCalls(template, { [fn]: logicalId(stack.agents.find((a) => a.agentId === agentId)!.function.role!) }, new Map([[fn, [call]]]), map).denied;
};

describe.each(reference.agents.map((a) => a.id))("the %s agent's role, used directly", (agentId) => {
  const other = reference.agents.find((a) => a.id !== agentId)!.id;
  it.each(hostile(agentId, other))('may not %s', (_, call) => {
    // At least one ARN IAM evaluates is denied (a call through a cross-region profile is evaluated on several).
    expect(verdict(agentId, call).length).toBeGreaterThan(0);
  });
  it.each(legitimate(agentId))('may %s', (_, call) => {
    expect(verdict(agentId, call)).toEqual([]);
  });
});

describe("the watch function's role", () => {
  const watch = stack.pipeline.watch!;
  const judge = (call: AwsCall) => checkCalls(template, { watch: logicalId(watch.function.role!) }, new Map([['watch', [call]]]), map).denied;
  it.each<[string, AwsCall]>([
    ['open and resolve incidents', ddb('UpdateItem', 'coordination', 'incident#silent:writer')],
    ['read the incidents', ddb('BatchGetItem', 'coordination', 'incident#breaker')],
    ['keep its own state', ddb('PutItem', 'coordination', 'watch#state')],
    ["read an agent's runs", ddb('Query', 'coordination', 'runs#writer')],
    ...reference.agents.map((a): [string, AwsCall] => [`read the steward's rejections of ${a.id}`, ddb('Query', 'memory', `rejected#${a.id}`)]),
    ["read the steward's rejections of senders that are no agent", ddb('Query', 'memory', 'rejected#unknown')],
    ["read the steward's failed embeddings", ddb('GetItem', 'memory', 'embeddings')],
    ['read the breaker state', ddb('GetItem', 'counters', 'breaker')],
  ])('may %s', (_, call) => {
    expect(judge(call)).toEqual([]);
  });
  it.each<[string, AwsCall]>([
    ['move the breaker', ddb('UpdateItem', 'counters', 'breaker')],
    ["forge an agent's heartbeat", ddb('PutItem', 'coordination', 'heartbeat#writer')],
    ["take an agent's lock", ddb('UpdateItem', 'coordination', `lock#writer@${slot}`)],
    ['write memory', ddb('PutItem', 'memory', 'mem#drafts')],
    ['switch schedules', { service: 'scheduler', action: 'UpdateSchedule', resource: 'schedule/nightshift-dev/writer-0' }],
  ])('may not %s', (_, call) => {
    expect(judge(call)).toHaveLength(1);
  });
});

describe("the breaker function's role", () => {
  const authority = stack.pipeline.breakerAuthority;
  const judge = (call: AwsCall) => checkCalls(template, { breaker: logicalId(authority.function.role!) }, new Map([['breaker', [call]]]), map).denied;
  it.each<[string, AwsCall]>([
    ['move the breaker and count in the pipeline window', ddb('UpdateItem', 'counters', 'breaker')],
    ...reference.agents.map((a): [string, AwsCall] => [`keep ${a.id}'s verified count`, ddb('UpdateItem', 'counters', `verified#${a.id}`)]),
    ...reference.agents.map((a): [string, AwsCall] => [`read ${a.id}'s verified count when blaming a trip`, ddb('GetItem', 'counters', `verified#${a.id}`)]),
  ])('may %s', (_, call) => {
    expect(judge(call)).toEqual([]);
  });
  it.each<[string, AwsCall]>([
    ["write an agent's content claims", ddb('UpdateItem', 'counters', 'outputs#writer')],
    ["spend an agent's budget", ddb('UpdateItem', 'counters', 'tokens#writer')],
    ['keep a count for an agent the pipeline does not have', ddb('UpdateItem', 'counters', 'verified#intruder')],
  ])('may not %s', (_, call) => {
    expect(judge(call)).toHaveLength(1);
  });
});

describe("the breaker function's role, with review policies", () => {
  const reviewed = reviewPipeline('reviewed');
  const reviewedStack = addNightshiftPipeline(testApp(), reviewed);
  const reviewedTemplate = Template.fromStack(reviewedStack);
  const reviewedMap = resourceMap(reviewedStack, 'reviewed-test');
  const held = (action: string, agentId: string): AwsCall => ({ service: 'dynamodb', action, resource: `table/${reviewedMap.tables.counters}`, leadingKeys: [`held#${agentId}`] });
  const judge = (call: AwsCall) =>
    checkCalls(reviewedTemplate, { breaker: logicalId(reviewedStack.pipeline.breakerAuthority.function.role!) }, new Map([['breaker', [call]]]), reviewedMap).denied;
  it.each<[string, AwsCall]>([
    ['hold a reviewed agent\'s output once counted', held('PutItem', 'poster')],
    ['start and finish publishing it', held('UpdateItem', 'poster')],
    ['read it', held('GetItem', 'poster')],
  ])('may %s', (_, call) => {
    expect(judge(call)).toEqual([]);
  });
  it.each<[string, AwsCall]>([
    ['hold the output of an agent without a review policy', held('PutItem', 'writer')],
    ['delete a held output', held('DeleteItem', 'poster')],
  ])('may not %s', (_, call) => {
    expect(judge(call)).toHaveLength(1);
  });
  it('gives no agent role a grant on held outputs', () => {
    for (const agent of reviewedStack.pipeline.agents) {
      const roles = { [agent.agentId]: logicalId(agent.function.role!) };
      for (const action of ['GetItem', 'PutItem', 'UpdateItem', 'Query']) {
        expect(checkCalls(reviewedTemplate, roles, new Map([[agent.agentId, [held(action, 'poster')]]]), reviewedMap).denied).toHaveLength(1);
      }
    }
  });
});
