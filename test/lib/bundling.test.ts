import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentEntry, bundle, checkAgentEntries } from '../../lib/bundling.ts';
import { ConfigError } from '../../src/config/pipeline.ts';

/** What loads at an agent's cold start, and what waits for first use. */
describe('function bundles', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-bundle-'));
  const size = bundle(agentEntry('lambdas/agents/writer/handler.ts'), outdir);
  const packages = [...new Set(size.coldStartInputs.map((input) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1]).filter(Boolean))];

  it('loads the DynamoDB client and the guard at cold start, and nothing only some runs need', () => {
    expect(packages).toEqual(expect.arrayContaining(['@aws-sdk/client-dynamodb', '@aws-lambda-powertools/logger']));
    expect(size.coldStartInputs).toContain('src/runtime/run-lifecycle.ts');
    expect(size.coldStartInputs).toContain('lambdas/agents/writer/handler.ts');
    // Memory updates (SQS), breaker requests (Lambda), the breaker's trip path, model calls, the tokenizer, the
    // search engine and tracing (when it is switched on) are chunks imported on first use.
    for (const lazy of ['@aws-sdk/client-sqs', '@aws-sdk/client-lambda', '@aws-sdk/client-sns', '@aws-sdk/client-scheduler', '@aws-sdk/client-bedrock-runtime', 'gpt-tokenizer', 'minisearch', '@aws-lambda-powertools/tracer', 'aws-xray-sdk-core']) {
      expect(packages).not.toContain(lazy);
    }
    // zod's mini build with its English messages only: not the classic build, not every locale.
    expect(size.coldStartInputs.filter((i) => i.includes('zod/v4/classic') || (i.includes('zod/v4/locales/') && !i.endsWith('/en.js')))).toEqual([]);
    expect(size.lazy).toBeGreaterThan(size.coldStart);
  });

  it('is an ES module whose lazy chunks sit beside it and load', async () => {
    expect(readdirSync(outdir)).toContain('index.mjs');
    expect(readdirSync(join(outdir, 'chunks')).length).toBeGreaterThan(5);
    const module = await import(pathToFileURL(join(outdir, 'index.mjs')).href);
    expect(typeof module.handler).toBe('function');
  });
});

describe('agent entries, checked before anything starts or bundles', () => {
  const agent = (id: string, entry: string) => ({ id, entry });

  it('accepts modules that export work, directly or re-exported', () => {
    expect(() => checkAgentEntries({ agents: [agent('writer', 'lambdas/agents/writer/handler.ts'), agent('notes', 'examples/agents/note-taker.ts')] })).not.toThrow();
  });

  it('names every agent whose module is missing, does not compile or exports no work, with the field and a fix', () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'nightshift-entry-')), 'does-not-compile.ts');
    writeFileSync(broken, "export async function work(: Promise<string> {\n  return 'never';\n}\n");
    const attempt = () =>
      checkAgentEntries({
        agents: [
          agent('ghost', 'agents/ghost.ts'),
          agent('lazy', 'test/fixtures/agents/no-work.ts'),
          agent('typo', broken),
          agent('folder', 'test/fixtures/agents'),
          agent('fine', 'examples/agents/note-taker.ts'),
        ],
      });
    expect(attempt).toThrow(ConfigError);
    const issues = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as ConfigError).issues;
      }
    })()!;
    expect(issues.map((i) => i.path)).toEqual(['agents[ghost].entry', 'agents[lazy].entry', 'agents[typo].entry', 'agents[folder].entry']);
    expect(issues[0]!.message).toMatch(/^agent 'ghost': agents\/ghost\.ts is not a file \(looked for .*agents\/ghost\.ts\)/);
    expect(issues[1]!.message).toMatch(/does not export `work` \(it exports: run\); an agent module exports its work as `export async function work/);
    expect(issues[2]!.message).toMatch(/does not compile: .*does-not-compile\.ts:1:/);
    expect(issues[3]!.message).toMatch(/is not a file/);
  });
});
