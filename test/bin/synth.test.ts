import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import reference from '../../nightshift.config.ts';
import { agentEnvironment, breakerFunctionArn, memoryQueueForTest } from '../support/agent-env.ts';
import { lambdaEndpoint } from '../support/lambda-endpoint.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { runTs } from '../support/subprocess.ts';
import { cdkJsonContext } from '../support/template.ts';

const { names } = await dynamoForTest('synth');
const memory = await memoryQueueForTest();
afterEach(() => vi.unstubAllEnvs());

/** Runs the CDK app the way `cdk synth` does: a subprocess with context and output directory in the environment. */
async function synth(config: string) {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-synth-'));
  const env = { CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext, config }) };
  return { ...(await runTs('bin/app.ts', [], { env })), outdir };
}

describe('bin/app.ts (what cdk synth runs)', () => {
  it('synthesizes the reference pipeline offline, with bundles that run', async () => {
    const { code, stderr, outdir } = await synth('nightshift.config.ts');
    expect(stderr).not.toMatch(/Error/);
    expect(code).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'nightshift-dev.template.json'), 'utf8'));
    const types = Object.values(template.Resources).map((r) => (r as { Type: string }).Type);
    expect(types.filter((t) => t === 'AWS::Scheduler::Schedule')).toHaveLength(13); // the agents' and the watch's
    expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(12);
    // The pager is configured, yet nothing in the cloud assembly holds a webhook: only the parameter's name.
    const text = readdirSync(outdir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile() && /\.(json|m?js)$/.test(f.name))
      .map((f) => readFileSync(join(f.parentPath, f.name), 'utf8'))
      .join('\n');
    expect(text).toContain(reference.alerts.pagerWebhookParameter!);
    expect(text).not.toMatch(/pagerduty|"Protocol":\s*"https"/i);

    // The planner's bundle is self-contained: load it from the cloud assembly and run it against DynamoDB Local.
    type FunctionResource = { Properties: { Code: { S3Key: string }; Environment: { Variables: Record<string, unknown> } } };
    const planner = Object.values(template.Resources).find(
      (r) => (r as FunctionResource).Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'planner',
    ) as FunctionResource;
    const assetDir = join(outdir, `asset.${planner.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    expect(readdirSync(assetDir)).toContain('index.mjs');
    // Its outputs are counted by the breaker function (the real handler, behind a loopback Lambda endpoint).
    const breakerFunction = await lambdaEndpoint(async (event, context) => (await import('../../lambdas/breaker/handler.ts')).handler(event, context));
    for (const [key, value] of Object.entries(agentEnvironment(reference, 'planner', names, memory, breakerFunction.endpoint))) vi.stubEnv(key, value);
    const { handler } = await import(pathToFileURL(join(assetDir, 'index.mjs')).href);
    const result = await handler({ agentId: 'planner', scheduledTime: '2026-11-25T01:00:00Z' });
    expect(result).toMatchObject({ status: 'completed', taskId: 'planner@2026-11-25T01:00:00.000Z' });
    expect(result.outputs.filter((o: { published: boolean }) => o.published)).toHaveLength(1);
    expect(breakerFunction.invoked).toEqual([breakerFunctionArn('planner')]);
  });

  it('fails on a bad cron with one line naming the schedule', async () => {
    const { code, stderr } = await synth('test/fixtures/bad-cron.config.ts');
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      "test/fixtures/bad-cron.config.ts: Invalid pipeline config: agents[writer].schedules[0].cron: hour '25' is out of range 0-23",
    );
  });

  it('fails clearly when the config file does not exist', async () => {
    const { code, stderr } = await synth('nope.config.ts');
    expect(code).toBe(1);
    expect(stderr).toMatch(/nope\.config\.ts: Invalid pipeline config: \(file\): config file .*nope\.config\.ts does not exist/);
  });

  it("refuses an agent whose module is missing or exports no work, naming each, before bundling anything", async () => {
    const { code, stderr, outdir } = await synth('test/fixtures/bad-entries.config.ts');
    expect(code).toBe(1);
    expect(stderr).toContain('test/fixtures/bad-entries.config.ts: Invalid pipeline config:');
    expect(stderr).toMatch(/agents\[ghost\]\.entry: agent 'ghost': agents\/ghost\.ts is not a file/);
    expect(stderr).toMatch(/agents\[lazy\]\.entry: agent 'lazy': test\/fixtures\/agents\/no-work\.ts does not export `work` \(it exports: run\)/);
    expect(stderr).not.toContain('fine');
    expect(readdirSync(outdir).filter((f) => f.startsWith('asset.'))).toEqual([]);
  });
});
