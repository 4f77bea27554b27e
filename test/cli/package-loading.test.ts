import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTs } from '../support/subprocess.ts';

const run = promisify(execFile);
const repo = resolve('.');

/**
 * The built package (dist/, what a project that installed it loads) from a CommonJS project such as `cdk init` makes:
 * required, imported from an ES module, and both at once, with one copy of each class.
 */
describe('the package as a CommonJS project loads it', () => {
  let project: string;
  const node = (...args: string[]) =>
    run(process.execPath, args, { cwd: project, timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'nightshift-cjs-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cjs-adopter', private: true }));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(repo, join(project, 'node_modules', 'nightshift'));
    for (const dependency of ['aws-cdk-lib', 'constructs']) symlinkSync(join(repo, 'node_modules', dependency), join(project, 'node_modules', dependency));
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('requires each entry point with require(), as Jest, ts-node and a CommonJS app do', async () => {
    writeFileSync(
      join(project, 'required.cjs'),
      `const n = require('nightshift'); const cdk = require('nightshift/cdk'); const testing = require('nightshift/testing');
console.log(JSON.stringify([typeof n.definePipeline, typeof n.ConfigError, typeof cdk.NightshiftPipeline, typeof cdk.newestNodeRuntime, typeof testing.runAgentOnce]));`,
    );
    const { code, stdout, stderr } = await node('required.cjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(['function', 'function', 'function', 'function', 'function']);
  });

  it('loads one copy of each class whether imported or required in the same process', async () => {
    writeFileSync(
      join(project, 'both.mjs'),
      `import { createRequire } from 'node:module';
import { ConfigError, definePipeline } from 'nightshift';
import { NightshiftPipeline } from 'nightshift/cdk';
const require = createRequire(import.meta.url);
let caught;
try { require('nightshift').definePipeline({ name: 'x' }); } catch (error) { caught = error; }
console.log(JSON.stringify([ConfigError === require('nightshift').ConfigError, NightshiftPipeline === require('nightshift/cdk').NightshiftPipeline, caught instanceof ConfigError, definePipeline === require('nightshift').definePipeline]));`,
    );
    const { code, stdout, stderr } = await node('both.mjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([true, true, true, true]);
  });

  it('ends a stack that imports a bad config with one clean error naming the field and the config file, not a dump of internals', async () => {
    writeFileSync(
      join(project, 'nightshift.config.ts'),
      `import { definePipeline } from 'nightshift';
export default definePipeline({
  name: 'cjs', stage: 'dev', breaker: { maxOutputs: 5, windowMinutes: 60 },
  agents: [{ id: 'scout', entry: 'agents/scout.ts', schedules: [{ cron: '0 25 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } }],
});
`,
    );
    writeFileSync(
      join(project, 'stack.ts'),
      `import { App, Stack } from 'aws-cdk-lib';
import { NightshiftPipeline } from 'nightshift/cdk';
import pipeline from './nightshift.config';
new NightshiftPipeline(new Stack(new App(), 'Users'), 'Pipeline', { pipeline });
`,
    );
    const { code, stderr } = await runTs(join(project, 'stack.ts'), [], { cwd: project, asInstalled: true });
    expect(code).toBe(1);
    expect(stderr).toContain("ConfigError: Invalid pipeline config: agents[scout].schedules[0].cron: hour '25' is out of range 0-23");
    expect(stderr).toMatch(/at .*nightshift\.config\.ts:\d+/);
    expect(stderr).not.toMatch(/dist[/\\]src[/\\]config|issues: \[/);
  });
});
