import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app.ts';
import { REVIEW_VARIABLE } from '../../src/contract/review-environment.ts';
import { reviewPipeline } from '../fixtures/review-pipeline.ts';
import { actionsGranted, logicalId, testApp } from '../support/template.ts';

/** A pipeline whose poster reviews its degraded runs: the approval page, its links' key, and who may do what. */
describe('review policies in the stack', () => {
  const app = testApp();
  const stack = addNightshiftPipeline(app, reviewPipeline('reviewed'));
  const template = Template.fromStack(stack);
  const review = stack.pipeline.review!;

  it('serves the approval page from a function URL, and outputs it', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [logicalId(review.function), 'Arn'] } });
    template.hasOutput('ApprovalPageUrl', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('ReviewFunctionFunctionUrl'), 'FunctionUrl'] } });
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
  });

  it("gives the watch the digest's environment, with the page's URL and the key's ARN (never the key)", () => {
    const watch = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { [REVIEW_VARIABLE]: Match.anyValue() } } } });
    const ids = Object.keys(watch);
    expect(ids).toContain(logicalId(stack.pipeline.watch!.function));
    const variable = JSON.stringify(watch[logicalId(stack.pipeline.watch!.function)]!.Properties.Environment.Variables[REVIEW_VARIABLE]);
    expect(variable).toContain('approvalPageUrl');
    expect(variable).toContain(logicalId(review.linkKey));
  });

  it('lets only the approval function and the watch read the key and invoke the reviewed agent for its publishing run', () => {
    const secret = logicalId(review.linkKey);
    const readers = [review.function, stack.pipeline.watch!.function].map((f) => logicalId(f.role!));
    for (const role of readers) expect(actionsGranted(template, role, secret)).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue']));
    for (const agent of stack.pipeline.agents) expect(actionsGranted(template, logicalId(agent.function.role!), secret)).toEqual([]);
    expect(actionsGranted(template, logicalId(stack.pipeline.breakerAuthority.function.role!), secret)).toEqual([]);
    const poster = stack.pipeline.agents.find((a) => a.agentId === 'poster')!;
    const writer = stack.pipeline.agents.find((a) => a.agentId === 'writer')!;
    expect(actionsGranted(template, logicalId(review.function.role!), logicalId(poster.function))).toEqual(['lambda:InvokeFunction']);
    expect(actionsGranted(template, logicalId(review.function.role!), logicalId(writer.function))).toEqual([]);
  });

  it('passes cdk-nag', () => {
    const checked = testApp();
    addNightshiftPipeline(checked, reviewPipeline('reviewed'));
    expect(() => checked.synth()).not.toThrow();
  });

  it('refuses a review policy without the watch, which pages the digest', async () => {
    const { definePipeline } = await import('../../src/config/pipeline.ts');
    const base = reviewPipeline('reviewed');
    expect(() => definePipeline({ ...base, monitoring: 'cloudwatch' })).toThrow(/agents\[poster\]\.review: review needs monitoring: 'watch'/);
  });
});
