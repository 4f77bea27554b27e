import { aws_iam as iam, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { BreakerSpec } from '../src/config/agent-spec.ts';
import { breakerVariables, commonVariables } from '../src/contract/environment.ts';
import { builtInHandler } from './bundling.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import { NightshiftFunction } from './nightshift-function.ts';
import type { PipelineSchedules } from './pipeline-schedules.ts';

export interface BreakerAuthorityProps {
  /** The breaker's table and alert topic. */
  readonly breaker: CircuitBreaker;
  /** The schedules a trip disables and a reset restores. */
  readonly schedules: PipelineSchedules;
  /** The pipeline's breaker spec (its limit, cool-down, schedules and agents). */
  readonly spec: BreakerSpec;
  /** X-Ray tracing of the function. @default false */
  readonly tracing?: boolean;
  /** Extra environment. @default - none */
  readonly environment?: Record<string, string>;
}

/**
 * The privileged breaker function: the only function that moves the circuit breaker (pipeline window, trips, probes),
 * disables and restores schedules, and publishes the trip alert. Agents ask it with a synchronous invoke, each
 * through an alias named after it that only its own role may invoke, so the function knows who asks from IAM, not
 * from the request.
 */
export class BreakerAuthority extends Construct {
  readonly function: NightshiftFunction;
  private readonly aliases = new Map<string, lambda.Alias>();

  constructor(scope: Construct, id: string, props: BreakerAuthorityProps) {
    super(scope, id);
    this.function = new NightshiftFunction(this, 'Function', {
      entry: builtInHandler('breaker'),
      environment: {
        ...props.environment,
        ...breakerVariables({
          counterTable: props.breaker.table.tableName,
          alertTopicArn: props.breaker.topic.topicArn,
          scheduleGroup: props.schedules.group.scheduleGroupName,
          breakerSpec: props.spec,
        }),
        ...commonVariables('breaker'),
      },
      tracing: props.tracing ?? false,
      invocation: 'sync',
    });
    props.breaker.grantBreakerState(this.function);
    if (props.spec.agents.length > 0) props.breaker.grantVerifiedCounts(this.function, props.spec.agents);
    // Held outputs of the agents that have a review policy: written (held), then moved (publishing, published).
    const reviewed = Object.keys(props.spec.reviews ?? {});
    if (reviewed.length > 0) props.breaker.grantHeldOutputs(this.function, reviewed, ['GetItem', 'PutItem', 'UpdateItem']);
    props.breaker.grantAlert(this.function);
    props.schedules.grantHalt(this.function);
  }

  /** The alias `agentId` invokes the function through (made on first use; its name is the agent id). */
  aliasFor(agentId: string): lambda.Alias {
    let alias = this.aliases.get(agentId);
    if (!alias) {
      alias = new lambda.Alias(this, `Agent-${agentId}`, { aliasName: agentId, version: this.function.currentVersion });
      this.aliases.set(agentId, alias);
    }
    return alias;
  }

  /** Lets `agentId`'s function ask the breaker: invoke its own alias, and nothing else of this function. */
  grantRequest(agentId: string, grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [this.aliasFor(agentId).functionArn] });
  }
}
