import { Stack, Validations, aws_lambda as lambda, aws_sqs as sqs } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { NightshiftFunction, RUNTIME_CONTEXT, newestNodeRuntime, nodeMajor } from '../../lib/nightshift-function.ts';
import { NightshiftPipeline } from '../../lib/nightshift-pipeline.ts';
import { definePipeline } from '../../src/config/pipeline.ts';
import { testApp } from '../support/template.ts';

const pipeline = definePipeline({
  name: 'rt',
  stage: 'dev',
  breaker: { maxOutputs: 10, windowMinutes: 10 },
  agents: [{ id: 'scout', entry: 'lambdas/agents/community/handler.ts', schedules: [{ cron: '0 6 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } }],
});

/** A pinned runtime is the user's choice: its latest-runtime findings acknowledged, as the README says to. */
function acknowledgePinned(nightshift: NightshiftPipeline): void {
  const reason = 'pinned on purpose';
  Validations.of(nightshift).acknowledge({ id: 'AwsSolutions-L1', reason }, { id: 'Serverless-LambdaLatestVersion', reason });
}

function runtimes(template: Template): string[] {
  return [...new Set(Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Runtime as string))];
}

describe('the functions’ Node.js runtime', () => {
  it('defaults to the newest Node.js runtime in the installed aws-cdk-lib, the one cdk-nag’s latest-runtime rules ask for', () => {
    const majors = lambda.Runtime.ALL.map((r) => nodeMajor(r.name)).filter((m): m is number => m !== undefined);
    expect(nodeMajor(newestNodeRuntime().name)).toBe(Math.max(...majors));
    const app = testApp();
    const stack = new Stack(app, 'User');
    new NightshiftPipeline(stack, 'Pipeline', { pipeline });
    expect(runtimes(Template.fromStack(stack))).toEqual([newestNodeRuntime().name]);
  });

  it('is the one the pipeline’s runtime prop names, for every function', () => {
    const stack = new Stack(testApp(), 'User');
    acknowledgePinned(new NightshiftPipeline(stack, 'Pipeline', { pipeline, runtime: lambda.Runtime.NODEJS_22_X }));
    expect(runtimes(Template.fromStack(stack))).toEqual(['nodejs22.x']);
  });

  it('is the one the nightshift:runtime context names (cdk.json or -c)', () => {
    const app = testApp();
    app.node.setContext(RUNTIME_CONTEXT, 'nodejs22.x');
    const stack = new Stack(app, 'User');
    acknowledgePinned(new NightshiftPipeline(stack, 'Pipeline', { pipeline }));
    expect(runtimes(Template.fromStack(stack))).toEqual(['nodejs22.x']);
  });

  it('refuses a runtime aws-cdk-lib does not know, or one older than Node.js 22, naming it and what to use', () => {
    const app = testApp();
    app.node.setContext(RUNTIME_CONTEXT, 'nodejs99.x');
    const dlq = (stack: Stack) => new sqs.Queue(stack, 'Dlq');
    const unknown = new Stack(app, 'Unknown');
    expect(() => new NightshiftFunction(unknown, 'Fn', { entry: 'lambdas/agents/community/handler.ts', deadLetterQueue: dlq(unknown) })).toThrow(
      /context nightshift:runtime is 'nodejs99.x', which this aws-cdk-lib does not know; use one of .*nodejs22\.x/,
    );
    const old = new Stack(testApp(), 'Old');
    expect(() => new NightshiftFunction(old, 'Fn', { entry: 'lambdas/agents/community/handler.ts', deadLetterQueue: dlq(old), runtime: lambda.Runtime.NODEJS_20_X })).toThrow(
      /the runtime prop is nodejs20\.x; Nightshift's functions need a Node\.js runtime of 22 or later/,
    );
  });

  it('fails cdk-nag’s latest-runtime rules when pinned below the newest, unless acknowledged', () => {
    const pinned = () => {
      const app = testApp();
      const stack = new Stack(app, 'User');
      const nightshift = new NightshiftPipeline(stack, 'Pipeline', { pipeline, runtime: lambda.Runtime.NODEJS_22_X });
      return { app, nightshift };
    };
    const failing = pinned();
    expect(() => failing.app.synth()).toThrow(/AwsSolutions-L1[\s\S]*User\/Pipeline\/Agent-scout/);
    const acknowledged = pinned();
    acknowledgePinned(acknowledged.nightshift);
    expect(() => acknowledged.app.synth()).not.toThrow();
  });
});
