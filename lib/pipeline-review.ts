import { type CfnElement, Duration, Stack, Validations, aws_iam as iam, aws_lambda as lambda, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../src/config/pipeline.ts';
import { commonVariables } from '../src/contract/environment.ts';
import { type ReviewEnvironment, reviewVariables } from '../src/contract/review-environment.ts';
import { KEYS } from '../src/contract/tables.ts';
import type { Agent } from './agent.ts';
import { builtInHandler } from './bundling.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { CoordinationTable } from './coordination-table.ts';
import { NightshiftFunction } from './nightshift-function.ts';

export interface PipelineReviewProps {
  readonly pipeline: PipelineConfig;
  readonly breaker: CircuitBreaker;
  readonly coordination: CoordinationTable;
  readonly agents: readonly Agent[];
  /** X-Ray tracing of the function. @default false */
  readonly tracing?: boolean;
}

/**
 * Outputs held for review (agents' `review` policies): the approval function behind a function URL, serving the page
 * the watch's digest links to, and the key those links are signed with, in Secrets Manager, readable only by the
 * approval function and the watch. The approval function may move the reviewed agents' held outputs (never hold one:
 * only the breaker function does, once it counted the output), read the breaker's state, and invoke exactly the
 * reviewed agents' functions for their publishing runs. No agent role can read the key or decide.
 */
export class PipelineReview extends Construct {
  readonly function: NightshiftFunction;
  readonly url: lambda.FunctionUrl;
  readonly linkKey: secretsmanager.Secret;
  private readonly reviewed: readonly Agent[];
  private readonly environment: ReviewEnvironment;
  private readonly breaker: CircuitBreaker;
  private readonly coordination: CoordinationTable;

  constructor(scope: Construct, id: string, props: PipelineReviewProps) {
    super(scope, id);
    const { pipeline, breaker, coordination } = props;
    this.breaker = breaker;
    this.coordination = coordination;
    const reviewed = pipeline.agents.filter((a) => a.review).map((a) => a.id);
    this.reviewed = props.agents.filter((a) => reviewed.includes(a.agentId));
    this.linkKey = new secretsmanager.Secret(this, 'LinkKey', {
      description: `Signs the approve and reject links of ${pipeline.name} (${pipeline.stage})'s review digests`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.linkKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'a new key voids every link already sent; rotate it by hand (a new secret value) when a digest may have leaked, and outstanding outputs stay decidable with the CLI',
    });
    this.environment = {
      counterTable: breaker.table.tableName,
      coordinationTable: coordination.table.tableName,
      linkKeySecretArn: this.linkKey.secretArn,
      label: `${pipeline.name} (${pipeline.stage})`,
      target: `--stage ${pipeline.stage}`,
      reviews: Object.fromEntries(pipeline.agents.flatMap((a) => (a.review ? [[a.id, { onExpiry: a.review.onExpiry }]] : []))),
      agentFunctions: Object.fromEntries(this.reviewed.map((a) => [a.agentId, a.function.functionName])),
    };
    this.function = new NightshiftFunction(this, 'Function', {
      entry: builtInHandler('approval'),
      // An approval waits for the agent's publishing run.
      timeout: Duration.seconds(Math.min(900, Math.max(...pipeline.agents.filter((a) => a.review).map((a) => a.timeoutSeconds)) + 30)),
      memorySize: 256,
      tracing: props.tracing ?? false,
      invocation: 'sync',
      environment: { ...reviewVariables(this.environment), ...commonVariables('approval') },
    });
    // The page is public: the link's signature is its only credential (see `links.ts`).
    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.grantDecide(this.function, ['GetItem', 'UpdateItem']);
  }

  /** The watch's part: its digest links to the page, and it follows `onExpiry` (moving and publishing held outputs). */
  attachDigest(watch: NightshiftFunction): void {
    for (const [name, value] of Object.entries(reviewVariables({ ...this.environment, approvalPageUrl: this.url.url }))) watch.addEnvironment(name, value);
    this.grantDecide(watch, ['Query', 'GetItem', 'UpdateItem']);
    // Its digest's high-water mark, on the coordination table.
    iam.Grant.addToPrincipal({ grantee: watch, actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resourceArns: [this.coordination.table.tableArn] }).principalStatement?.addCondition(
      'ForAllValues:StringEquals',
      { 'dynamodb:LeadingKeys': ['review#digest'] },
    );
  }

  private grantDecide(grantee: NightshiftFunction, actions: readonly string[]): void {
    this.breaker.grantHeldOutputs(grantee, this.reviewed.map((a) => a.agentId), actions);
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem'], resourceArns: [this.breaker.table.tableArn] }).principalStatement?.addCondition('ForAllValues:StringEquals', {
      'dynamodb:LeadingKeys': [KEYS.counters.breaker.pk],
    });
    this.linkKey.grantRead(grantee);
    for (const agent of this.reviewed) agent.function.grantInvoke(grantee);
    const stack = Stack.of(this);
    for (const agent of this.reviewed) {
      Validations.of(grantee).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(agent.function.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: 'grantInvoke allows the function and its versions (`:*`); the action is exactly lambda:InvokeFunction',
      });
    }
  }
}
