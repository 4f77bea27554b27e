import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SHIFTS, faketime } from '../support/faketime.ts';
import { runTs } from '../support/subprocess.ts';

const run = promisify(execFile);
const repo = resolve('.');

/**
 * A team adopting Nightshift without forking it: a fresh folder outside the repository, with the package installed
 * (linked, as `npm install <path>` would), scaffolds an agent, writes another by hand, and imports nothing but the
 * package's name (`nightshift`, `nightshift/cdk`, `nightshift/testing`) and its own libraries.
 */
describe('the author API, from a folder outside the repository', () => {
  let project: string;
  let scaffolded: string;
  const inProject = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(command, args, { cwd: project, env: { ...process.env, ...env }, timeout: 110_000 });
  // The command as npm installs it (node_modules/.bin/nightshift → bin/nightshift.mjs, which registers tsx itself).
  const nightshift = async (...args: string[]) => {
    const result = await run(process.execPath, [join(project, 'node_modules', 'nightshift', 'bin', 'nightshift.mjs'), ...args], { cwd: project }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );
    if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
    return result;
  };

  /** The adopter's project, set up once (scaffolding and synth are the slow part): the tests read what it holds. */
  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'nightshift-adopter-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'adopter', type: 'module', private: true }));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(repo, join(project, 'node_modules', 'nightshift'));
    // What the project installs beside Nightshift: its test runner, its schemas, and the CDK (a peer dependency).
    for (const dependency of ['vitest', 'zod', 'aws-cdk-lib', 'constructs']) symlinkSync(join(repo, 'node_modules', dependency), join(project, 'node_modules', dependency));
    scaffolded = (await nightshift('new', 'agent', 'scout')).stdout;
    await nightshift('new', 'agent', 'editor');
    rmSync(join(project, 'test', 'editor.test.ts'));
    // The editor is written by hand: it reads what the scout wrote, typed and checked by a schema.
    writeFileSync(
      join(project, 'agents', 'editor.ts'),
      `import type { AgentContext } from 'nightshift';
import * as z from 'zod/mini';

const lastRun = z.object({ slot: z.string(), runs: z.number() });

export async function work(ctx: AgentContext): Promise<string> {
  const scout = await ctx.memory.read('scout', 'last-run', lastRun);
  await ctx.memory.put('editor', 'summary', { scoutRuns: scout?.runs ?? 0 });
  await ctx.emit({ edited: ctx.invocation.scheduledTime });
  return 'edited';
}
`,
    );
    const config = readFileSync(join(project, 'nightshift.config.ts'), 'utf8');
    writeFileSync(join(project, 'nightshift.config.ts'), config.replace("memory: { reads: ['editor'], writes: ['editor'] }", "memory: { reads: ['scout', 'editor'], writes: ['editor'] }, upstream: ['scout']"));
    writeFileSync(
      join(project, 'app.ts'),
      `import { App } from 'aws-cdk-lib';
import { addNightshiftPipeline } from 'nightshift/cdk';
import pipeline from './nightshift.config';

addNightshiftPipeline(new App(), pipeline);
`,
    );
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('scaffolds an agent with its config entry and a test, and refuses to overwrite it', async () => {
    expect(scaffolded).toContain('wrote nightshift.config.ts');
    expect(scaffolded).toContain('wrote agents/scout.ts');
    expect(scaffolded).toContain('wrote test/scout.test.ts');
    const before = readFileSync(join(project, 'nightshift.config.ts'), 'utf8');
    const again = await nightshift('new', 'agent', 'scout').catch((error: { code: number; stderr: string }) => error);
    expect(again).toMatchObject({ code: 2 });
    expect((again as { stderr: string }).stderr).toContain('agents/scout.ts already exists');
    expect(readFileSync(join(project, 'nightshift.config.ts'), 'utf8')).toBe(before);
  });

  it('synthesizes a config and a hand-written agent that import only from the package name', async () => {
    const sources = ['nightshift.config.ts', 'app.ts', 'agents/scout.ts', 'agents/editor.ts', 'test/scout.test.ts'].map((f) => readFileSync(join(project, f), 'utf8'));
    const imported = new Set(sources.flatMap((s) => [...s.matchAll(/from '([^']+)'/g)].map((m) => m[1]!)).filter((m) => !m.startsWith('.')));
    expect([...imported].sort()).toEqual(['aws-cdk-lib', 'nightshift', 'nightshift/cdk', 'nightshift/testing', 'vitest', 'zod/mini']);

    const outdir = mkdtempSync(join(tmpdir(), 'nightshift-adopter-out-'));
    try {
      const synth = await runTs(join(project, 'app.ts'), [], { cwd: project, env: { CDK_OUTDIR: outdir }, asInstalled: true });
      expect(synth.stderr).not.toMatch(/Error/);
      expect(synth.code).toBe(0);
      const templateFile = readdirSync(outdir).find((f) => f.endsWith('.template.json'))!;
      const template = JSON.parse(readFileSync(join(outdir, templateFile), 'utf8'));
      const agents = Object.values(template.Resources as Record<string, { Type: string; Properties: { Environment?: { Variables: Record<string, string> }; Code?: { S3Key: string } } }>)
        .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables.NIGHTSHIFT_AGENT_SPEC)
        .map((r) => ({ id: r.Properties.Environment!.Variables.POWERTOOLS_SERVICE_NAME!, asset: r.Properties.Code!.S3Key.replace(/\.zip$/, '') }));
      expect(agents.map((a) => a.id).sort()).toEqual(['editor', 'scout']);
      // Each agent's bundle is its own, though both modules sit in one folder.
      for (const { id, asset } of agents) {
        const bundle = readFileSync(join(outdir, `asset.${asset}`, 'index.mjs'), 'utf8');
        expect(bundle).toContain(id === 'scout' ? '"scout","last-run"' : '"editor","summary"');
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("passes the scaffolded agent's generated test", async () => {
    // On the suite's DynamoDB Local (a JVM of its own would cost seconds): what NIGHTSHIFT_DYNAMODB_ENDPOINT is for.
    const { stdout } = await inProject(process.execPath, [join(repo, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/scout.test.ts'], {
      NIGHTSHIFT_DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
    });
    expect(stdout).toMatch(/1 passed/);
  });

  it.each(Object.entries(SHIFTS))("passes the scaffolded agent's generated test with the machine clock %s its dates", async (_, shift) => {
    // Without the suite's DynamoDB Local: runAgentOnce starts its own, whose JVM runs on the shifted clock too.
    const { stdout } = await inProject(faketime(), ['-f', shift.spec, process.execPath, join(repo, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/scout.test.ts'], {
      NIGHTSHIFT_DYNAMODB_ENDPOINT: '',
    });
    expect(stdout).toMatch(/1 passed/);
  });
});
