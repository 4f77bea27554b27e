import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentEntry, bundle } from '../../lib/bundling';

/** What loads at an agent's cold start, and what waits for first use. */
describe('function bundles', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-bundle-'));
  const size = bundle(agentEntry('lambdas/agents/writer/handler.ts'), outdir);
  const packages = [...new Set(size.coldStartInputs.map((input) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1]).filter(Boolean))];

  it('loads the DynamoDB and SQS clients and the guard at cold start, and nothing only a rare path needs', () => {
    expect(packages).toEqual(expect.arrayContaining(['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@aws-lambda-powertools/logger']));
    expect(size.coldStartInputs).toContain('src/runtime/run-lifecycle.ts');
    expect(size.coldStartInputs).toContain('lambdas/agents/writer/handler.ts');
    // The breaker's trip path, model calls, the tokenizer, the search engine and tracing (when it is switched on)
    // are chunks imported on first use.
    for (const lazy of ['@aws-sdk/client-sns', '@aws-sdk/client-scheduler', '@aws-sdk/client-bedrock-runtime', 'gpt-tokenizer', 'minisearch', '@aws-lambda-powertools/tracer', 'aws-xray-sdk-core']) {
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
