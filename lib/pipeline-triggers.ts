import { Duration, Stack, aws_events as events, aws_events_targets as targets, aws_iam as iam, type aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { OUTPUT_DETAIL_TYPE, outputSource, triggeredBy } from '../src/config/triggers.ts';
import type { Agent } from './agent.ts';
import { InvalidPropsError } from '../src/errors.ts';

/** EventBridge's limit on an event bus's permission policy. */
const BUS_POLICY_MAX_BYTES = 10_240;

export interface PipelineTriggersProps {
  readonly pipeline: PipelineConfig;
  readonly agents: readonly Agent[];
  /**
   * Where an event goes that EventBridge could not deliver to its agent within the retries.
   * @default - the triggered agent's own (`Agent.deadLetterQueue`), which the watch pages on
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /** The bus's name. @default `<name>-<stage>` */
  readonly busName?: string;
}

/**
 * The routes of a pipeline's triggers. Agents others run on put each output they publish (after the breaker admitted
 * it) on the pipeline's bus, each under its own source (`nightshift.agent.<id>`), which is all IAM lets its role put
 * there. One EventBridge rule per trigger sends the matching events to the triggered agent's function, retried for
 * two hours, then into the pipeline's dead-letter queue for invocations (the schedules' own, which pages). The task lock's id comes from the event's id, so a redelivered event runs
 * its agent once; while the breaker is open the agent refuses every run, triggered ones as well, and takes them again
 * when it closes.
 */
export class PipelineTriggers extends Construct {
  /** The pipeline's bus: agents' outputs, and outside events sent to it (`nightshift send-event`). */
  readonly bus: events.EventBus;
  readonly rules: readonly events.Rule[];

  constructor(scope: Construct, id: string, props: PipelineTriggersProps) {
    super(scope, id);
    const { pipeline } = props;
    const busName = props.busName ?? `${pipeline.name}-${pipeline.stage}`;
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: busName });
    const functionOf = new Map(props.agents.map((a) => [a.agentId, a.function]));
    const deadLetterOf = new Map(props.agents.map((a) => [a.agentId, a.deadLetterQueue]));
    const rules: events.Rule[] = [];
    for (const agent of pipeline.agents) {
      agent.triggers.forEach((trigger, i) => {
        const onPipelineBus = 'outputsOf' in trigger || trigger.event.bus === 'pipeline';
        const rule = new events.Rule(this, `${agent.id}-${i}`, {
          ...(onPipelineBus ? { eventBus: this.bus } : {}),
          description: 'outputsOf' in trigger ? `${agent.id} runs on each output of ${trigger.outputsOf}` : `${agent.id} runs on ${trigger.event.source.join(', ')} events`,
          eventPattern:
            'outputsOf' in trigger
              ? { source: [outputSource(trigger.outputsOf)], detailType: [OUTPUT_DETAIL_TYPE] }
              : { source: trigger.event.source, ...(trigger.event.detailType ? { detailType: trigger.event.detailType } : {}) },
          targets: [
            new targets.LambdaFunction(functionOf.get(agent.id)!, { deadLetterQueue: props.deadLetterQueue ?? deadLetterOf.get(agent.id)!, retryAttempts: 8, maxEventAge: Duration.hours(2) }),
          ],
        });
        rules.push(rule);
      });
    }
    this.rules = rules;
    // Each agent others run on may put its own outputs on the bus, under its own source and detail type only.
    const putters = pipeline.agents.filter((agent) => triggeredBy(pipeline.agents, agent.id).length > 0);
    for (const agent of putters) {
      const fn = functionOf.get(agent.id)!;
      fn.addEnvironment('NIGHTSHIFT_EVENT_BUS', this.bus.eventBusName);
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['events:PutEvents'], resourceArns: [this.bus.eventBusArn] }).principalStatement?.addCondition('StringEquals', {
        'events:source': outputSource(agent.id),
        'events:detail-type': OUTPUT_DETAIL_TYPE,
      });
    }
    this.guardBus(busName, putters.map((agent) => ({ source: outputSource(agent.id), role: functionOf.get(agent.id)!.role! })));
  }

  /**
   * The bus's resource policy: what no identity policy in the account can grant around it. An agent's output source
   * (`nightshift.agent.<id>`) may be put only by that agent's role, whatever another principal's own policies allow
   * (an operator's `events:*`, another service's role); no other `nightshift.` source may be put at all; and nothing
   * from outside the account.
   */
  private guardBus(busName: string, putters: readonly { source: string; role: iam.IRole }[]): void {
    // EventBridge takes a bus policy of at most 10 KB: measured with the longest ARNs a role (64-character name) and
    // this bus can have, and the two statements besides the agents'.
    const role = `arn:aws-us-gov:iam::123456789012:role/${'r'.repeat(64)}`;
    const bus = `arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/${busName}`;
    const statement = (sid: string, condition: unknown) => ({ Sid: sid, Effect: 'Deny', Principal: { AWS: '*' }, Action: 'events:PutEvents', Resource: bus, Condition: condition });
    const worst = JSON.stringify([
      ...putters.map((p, i) => statement(`OnlyItsAgentPutsSource${i}`, { StringEquals: { 'events:source': p.source }, ArnNotEquals: { 'aws:PrincipalArn': role } })),
      statement('NoOtherNightshiftSource', { StringLike: { 'events:source': 'nightshift.*' }, StringNotEquals: { 'events:source': putters.map((p) => p.source) } }),
      statement('NothingFromOutsideTheAccount', { StringNotEquals: { 'aws:PrincipalAccount': '123456789012' } }),
    ]).length;
    if (worst > BUS_POLICY_MAX_BYTES) {
      throw new InvalidPropsError(
        `${putters.length} agents publish outputs others run on; the bus policy that keeps each one's source to its own role would be up to ${worst} bytes, past EventBridge's ${BUS_POLICY_MAX_BYTES}: split the pipeline, or have fewer agents trigger on others' outputs`,
      );
    }
    const deny = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
      new iam.PolicyStatement({ sid, effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions: ['events:PutEvents'], resources: [Stack.of(this).formatArn({ service: 'events', resource: 'event-bus', resourceName: busName })], conditions });
    // The bus's own `Policy` property, one document (`addToResourcePolicy` makes a deprecated resource per statement);
    // its ARN spelled out, as the bus's own attribute would make the bus depend on itself.
    (this.bus.node.defaultChild as events.CfnEventBus).policy = new iam.PolicyDocument({
      statements: [
        ...putters.map(({ source, role }, i) => deny(`OnlyItsAgentPutsSource${i}`, { StringEquals: { 'events:source': source }, ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } })),
        deny('NoOtherNightshiftSource', {
          StringLike: { 'events:source': 'nightshift.*' },
          ...(putters.length ? { StringNotEquals: { 'events:source': putters.map((p) => p.source) } } : {}),
        }),
        deny('NothingFromOutsideTheAccount', { StringNotEquals: { 'aws:PrincipalAccount': Stack.of(this).account } }),
      ],
    });
  }
}
