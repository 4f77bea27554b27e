import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addNightshiftPipeline } from '../../lib/nightshift-app.ts';
import reference from '../../nightshift.config.ts';
import { runTs } from '../support/subprocess.ts';
import { cdkJsonContext } from '../support/template.ts';
import { App } from 'aws-cdk-lib';

describe('the LocalStack path', () => {
  it('says the smoke suite did not run, and exits 77, when no LocalStack endpoint is configured', async () => {
    const result = await runTs('scripts/localstack-smoke.ts', [], { env: { LOCALSTACK_ENDPOINT: '' } });
    expect(result.code).toBe(77);
    expect(result.stdout).toContain('LocalStack smoke suite NOT RUN');
  });

  it('deploys agents that answer without Bedrock when the app is given -c modelProvider=offline', () => {
    const app = (modelProvider?: string) =>
      new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [], ...(modelProvider ? { modelProvider } : {}) } });
    const providers = (modelProvider?: string) =>
      Object.values(Template.fromStack(addNightshiftPipeline(app(modelProvider), reference)).findResources('AWS::Lambda::Function'))
        .filter((fn) => fn.Properties.Environment.Variables.NIGHTSHIFT_AGENT_SPEC)
        .map((fn) => fn.Properties.Environment.Variables.NIGHTSHIFT_MODEL_PROVIDER);
    expect(providers('offline')).toEqual(['offline', 'offline', 'offline', 'offline', 'offline']);
    expect(providers()).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(() => addNightshiftPipeline(app('openai'), reference)).toThrow("context modelProvider must be 'bedrock' or 'offline'; got 'openai'");
  });
});
