import type { Template } from 'aws-cdk-lib/assertions';
import { parseModelId, DESTINATION_REGIONS } from '../../src/config/models.ts';
import { type TableNames, tableNames } from '../../src/contract/tables.ts';
import type { NightshiftStack } from '../../lib/nightshift-stack.ts';
import { logicalId } from './template.ts';
import type { AwsCall } from '../../src/runtime/aws-calls.ts';
import { LOCAL_ALERT_TOPIC, LOCAL_SCHEDULE_ROLE } from '../../local/side-effects.ts';

/**
 * Holds the AWS calls local mode recorded for each function against the IAM policies the synthesized template
 * attaches to that function's role: the action, the resource ARN, and a `dynamodb:LeadingKeys` condition against
 * the partition keys the call used. The template is rendered with fixed pseudo parameters; a resource is written
 * `<LogicalId.Arn>` or `<LogicalId>` where it is an attribute or reference of a resource in the template.
 */

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

interface Statement {
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** Patterns every partition key of the call must match (`StringEquals` exact, `StringLike` with wildcards). */
  readonly leadingKeys?: readonly string[];
  readonly leadingKeysLike?: boolean;
  /** Conditions besides the partition keys: held only by a call whose context has the key with an allowed value. */
  readonly otherConditions: readonly { op: string; key: string; value: unknown }[];
}

export interface IamVerdict {
  /** Calls no statement allows: `function: service:Action on resource`. */
  readonly denied: string[];
  /** Per function, granted `service:Action on resource` no recorded call used. */
  readonly unexercised: Record<string, string[]>;
}

/** What the template calls each locally named resource. */
export interface ResourceMap {
  readonly tables: TableNames;
  /** Local queue name → template logical id. */
  readonly queues: Readonly<Record<string, string>>;
  readonly tableIds: Readonly<Record<keyof TableNames, string>>;
  readonly topicId: string;
  readonly topicKeyId: string;
  readonly scheduleRoleId: string;
  /** Agent id → logical id of its alias of the breaker function. */
  readonly breakerAliasIds: Readonly<Record<string, string>>;
  /** The breaker function itself (invoked without an alias). @default - unknown */
  readonly breakerFunctionId?: string;
  /** The pipeline's event bus, when it has triggers. @default - none */
  readonly eventBusId?: string;
  /** Agent id → logical id of its own application inference profile (agents with a model). @default - none */
  readonly modelProfileIds?: Readonly<Record<string, string>>;
}

/** What the template calls each resource local mode names, for a stack whose local tables have `prefix`. */
export function resourceMap(stack: NightshiftStack, prefix: string): ResourceMap {
  return {
    tables: tableNames(prefix),
    tableIds: { coordination: logicalId(stack.coordination.table), memory: logicalId(stack.memory.table), counters: logicalId(stack.breaker.table) },
    queues: {
      [`${stack.stackName}-memory.fifo`]: logicalId(stack.memory.queue),
      [`${stack.stackName}-memory-dlq.fifo`]: logicalId(stack.memory.deadLetterQueue),
      // Invocations that never ran: the pipeline's own functions' queue, and each agent's (no local stand-ins).
      [`${stack.stackName}-lost-invocations`]: logicalId(stack.schedules.deadLetterQueue),
      ...Object.fromEntries(stack.agents.map((a) => [`${stack.stackName}-lost-invocations-${a.agentId}`, logicalId(a.deadLetterQueue as never)])),
    },
    topicId: logicalId(stack.breaker.topic),
    topicKeyId: stack.breaker.topicKey ? logicalId(stack.breaker.topicKey) : '(the AWS managed key: no grant needed)',
    scheduleRoleId: logicalId(stack.schedules.role),
    breakerAliasIds: Object.fromEntries(stack.agents.map((a) => [a.agentId, logicalId(stack.breakerAuthority.aliasFor(a.agentId))])),
    breakerFunctionId: logicalId(stack.breakerAuthority.function),
    ...(stack.triggers ? { eventBusId: logicalId(stack.triggers.bus) } : {}),
    modelProfileIds: Object.fromEntries(stack.agents.flatMap((a) => (a.modelProfile ? [[a.agentId, logicalId(a.modelProfile)]] : []))),
  };
}

export function checkCalls(template: Template, roles: Readonly<Record<string, string>>, calls: ReadonlyMap<string, readonly AwsCall[]>, map: ResourceMap): IamVerdict {
  const denied: string[] = [];
  const unexercised: Record<string, string[]> = {};
  for (const [fn, roleId] of Object.entries(roles)) {
    const statements = statementsOf(template, roleId);
    const used = new Set<string>();
    for (const call of calls.get(fn) ?? []) {
      const action = `${call.service}:${call.action}`;
      for (const { arn, context } of arnsOf(call, map)) {
        const allowing = statements.filter(
          (s) =>
            s.actions.some((a) => matches(a, action)) &&
            s.resources.some((r) => matches(r, arn)) &&
            s.otherConditions.every((c) => c.op === 'StringEquals' && context?.[c.key] !== undefined && [c.value].flat().includes(context[c.key])) &&
            (!s.leadingKeys || (call.leadingKeys ?? ['(none)']).every((k) => s.leadingKeys!.some((key) => (s.leadingKeysLike ? matches(key, k) : key === k)))),
        );
        if (allowing.length === 0) denied.push(`${fn}: ${action} on ${arn}${call.leadingKeys ? ` (keys ${call.leadingKeys.join(', ')})` : ''}`);
        for (const s of allowing) for (const a of s.actions) for (const r of s.resources) if (matches(a, action) && matches(r, arn)) used.add(`${a} on ${r}`);
      }
    }
    // Logs are written by the Lambda runtime with the role, not by the function's code.
    unexercised[fn] = statements
      .flatMap((s) => s.actions.flatMap((a) => s.resources.map((r) => `${a} on ${r}`)))
      .filter((g) => !used.has(g) && !g.startsWith('logs:'))
      .sort();
  }
  return { denied, unexercised };
}

/**
 * The ARNs IAM evaluates for a call, each with the request context it carries (a model behind an inference profile:
 * the profile, and the model in each destination with `bedrock:InferenceProfileArn` set to the profile).
 */
function arnsOf(call: AwsCall, map: ResourceMap): { arn: string; context?: Record<string, string> }[] {
  const arns = arnStrings(call, map);
  // Through an agent's application inference profile: the profile, then what it routes to, all in its name.
  const own = call.resource.startsWith('model-profile/') ? arns[0] : undefined;
  return arns.map((arn, i) => {
    const profile = own ?? (call.service === 'bedrock' ? arns.find((a) => a.includes(':inference-profile/')) : undefined);
    const routed = own ? i > 0 : arn.includes(':foundation-model/');
    const context = { ...call.context, ...(profile && routed ? { 'bedrock:InferenceProfileArn': profile } : {}) };
    return Object.keys(context).length > 0 ? { arn, context } : { arn };
  });
}

function arnStrings(call: AwsCall, map: ResourceMap): string[] {
  const [kind, ...rest] = call.resource.split('/');
  const name = rest.join('/');
  switch (kind) {
    case 'table': {
      const [table, ...index] = name.split('/');
      const role = (Object.keys(map.tables) as (keyof TableNames)[]).find((r) => map.tables[r] === table);
      if (!role) return [`(unknown table ${table})`];
      return [`<${map.tableIds[role]}.Arn>${index.length ? `/${index.join('/')}` : ''}`];
    }
    case 'queue':
      return [map.queues[name] ? `<${map.queues[name]}.Arn>` : `(unknown queue ${name})`];
    case 'function': {
      // `breaker:<agent id>`: the breaker function through that agent's alias (an alias's Ref is its ARN).
      const agentId = name.split(':')[1];
      if (agentId === undefined) return [map.breakerFunctionId ? `<${map.breakerFunctionId}.Arn>` : `(unknown function ${name})`];
      return [map.breakerAliasIds[agentId] ? `<${map.breakerAliasIds[agentId]}>` : `(unknown function ${name})`];
    }
    case 'schedule':
      return [`arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${name}`];
    case 'event-bus':
      // `event-bus/pipeline`: the pipeline's own bus; `event-bus/default`: the account's.
      if (name === 'default') return [`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`];
      return [map.eventBusId ? `<${map.eventBusId}.Arn>` : '(no event bus in the template)'];
    case 'parameter':
      return [`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/${name}`];
    case 'secret':
      // A secret's ARN ends in six random characters Secrets Manager adds.
      return [`arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbC123`];
    case 'model':
      return modelArns(name);
    case 'model-profile': {
      // `model-profile/<agent id>/<model id>`: the model through that agent's own application inference profile.
      const [agentId, ...model] = name.split('/');
      const own = map.modelProfileIds?.[agentId!];
      return [own ? `<${own}.InferenceProfileArn>` : `(no inference profile of ${agentId})`, ...modelArns(model.join('/'))];
    }
    default:
      if (call.resource === LOCAL_ALERT_TOPIC) return [`<${map.topicId}>`];
      if (call.resource === `${LOCAL_ALERT_TOPIC}/key`) return [`<${map.topicKeyId}.Arn>`];
      if (call.resource === LOCAL_SCHEDULE_ROLE) return [`<${map.scheduleRoleId}.Arn>`];
      return [`(unknown resource ${call.resource})`];
  }
}

/** A model id's ARNs: the foundation model in the region, or a cross-region profile and the model in each destination. */
function modelArns(id: string): string[] {
  const ref = parseModelId(id);
  const foundation = (region: string) => `arn:aws:bedrock:${region}::foundation-model/${ref.modelId}`;
  return ref.kind === 'foundation-model'
    ? [foundation(REGION)]
    : [`arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/${ref.profileId}`, ...DESTINATION_REGIONS[ref.geography].map(foundation)];
}

function statementsOf(template: Template, roleId: string): Statement[] {
  const out: Statement[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles: unknown[] = policy.Properties.Roles ?? [];
    if (!roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }))) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      if (statement.Effect !== 'Allow') continue;
      const conditions = Object.entries((statement.Condition ?? {}) as Record<string, Record<string, unknown>>).flatMap(([op, keys]) =>
        Object.entries(keys).map(([key, value]) => ({ op, key, value })),
      );
      // Exact keys, or patterns: IAM's `StringLike` wildcards are the same as its resource wildcards.
      const leading = conditions.find((c) => (c.op === 'ForAllValues:StringEquals' || c.op === 'ForAllValues:StringLike') && c.key === 'dynamodb:LeadingKeys');
      // PassRole to Scheduler is what UpdateSchedule does: the condition holds for the calls recorded.
      const other = conditions.filter((c) => c !== leading && !(c.key === 'iam:PassedToService' && c.value === 'scheduler.amazonaws.com'));
      out.push({
        actions: [statement.Action].flat(),
        resources: [statement.Resource].flat().map(render),
        ...(leading ? { leadingKeys: [leading.value].flat() as string[], leadingKeysLike: leading.op === 'ForAllValues:StringLike' } : {}),
        otherConditions: other.map((c) => ({ op: c.op, key: c.key, value: typeof c.value === 'string' ? c.value : render(c.value) })),
      });
    }
  }
  return out;
}

/** A CloudFormation value as a string: pseudo parameters fixed, references and attributes as `<Id>` / `<Id.Attr>`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return v.Ref === 'AWS::Partition' ? 'aws' : v.Ref === 'AWS::Region' ? REGION : v.Ref === 'AWS::AccountId' ? ACCOUNT : v.Ref === 'AWS::URLSuffix' ? 'amazonaws.com' : `<${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in v) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  return JSON.stringify(value);
}

/** IAM's wildcard match (`*` any run, `?` one character), case-sensitive. */
function matches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return regex.test(value);
}
