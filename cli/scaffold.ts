import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { NightshiftError } from '../src/errors.ts';

/** `nightshift new agent <id>`: a handler, its config entry and a passing test, written beside the config. */

export class ScaffoldError extends NightshiftError {
  override readonly name = 'ScaffoldError';
}

export interface NewAgentOptions {
  readonly id: string;
  /** The pipeline config the entry goes in; created when missing. */
  readonly config: string;
  /** Folder of agent modules. @default 'agents' */
  readonly dir?: string;
  /** Folder of tests. @default 'test' */
  readonly testDir?: string;
  /** Where the package is imported from (this repository imports its own sources). @default 'nightshift' */
  readonly packageName?: string;
  /** The project's root: paths in the config and messages are relative to it. @default - the working directory */
  readonly root?: string;
  /** The command that wrote the agent, named in its description. @default 'nightshift new agent' */
  readonly scaffoldedBy?: string;
}

const AGENT_ID = /^[a-z][a-z0-9-]{0,39}$/;

/** Writes the three files and returns what it wrote; refuses, before writing anything, what it would overwrite. */
export function newAgent(options: NewAgentOptions): { written: string[]; undo: () => void } {
  const { id } = options;
  if (!AGENT_ID.test(id)) throw new ScaffoldError(`agent id '${id}' must be 1-40 lowercase letters, digits or dashes, starting with a letter`);
  const root = resolve(options.root ?? process.cwd());
  const configPath = resolve(root, options.config);
  const agentFile = resolve(root, options.dir ?? 'agents', `${id}.ts`);
  const testFile = resolve(root, options.testDir ?? 'test', `${id}.test.ts`);
  const pkg = options.packageName ?? 'nightshift';
  for (const file of [agentFile, testFile]) {
    if (existsSync(file)) throw new ScaffoldError(`${relative(root, file)} already exists; choose another id or remove it`);
  }
  const configText = existsSync(configPath) ? readFileSync(configPath, 'utf8') : undefined;
  if (configText && new RegExp(`id:\\s*['"]${id}['"]`).test(configText)) {
    throw new ScaffoldError(`agent '${id}' is already in ${options.config}; choose another id`);
  }
  const entry = relative(root, agentFile).split('\\').join('/');
  const namespace = id;
  const configEntry = [
    '    {',
    `      id: '${id}',`,
    `      description: 'What ${id} does (scaffolded by ${options.scaffoldedBy ?? 'nightshift new agent'})',`,
    `      entry: '${entry}',`,
    `      memory: { reads: ['${namespace}'], writes: ['${namespace}'] },`,
    "      schedules: [{ cron: '0 6 * * *', timeZone: 'UTC' }],",
    '      breaker: { maxOutputs: 10, windowMinutes: 60 },',
    '    },',
  ].join('\n');
  let newConfig: string;
  if (configText === undefined) {
    newConfig = [
      `import { definePipeline } from '${pkg}';`,
      '',
      '/** The pipeline: its agents, their schedules (five-field cron in each time zone) and the breaker. */',
      'export default definePipeline({',
      `  name: '${basename(dirname(configPath)).toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '') || 'pipeline'}',`,
      "  stage: 'dev',",
      '  agents: [',
      configEntry,
      '  ],',
      '  breaker: { maxOutputs: 50, windowMinutes: 60 },',
      '});',
      '',
    ].join('\n');
  } else {
    const at = /agents:\s*\[\s*\n?/.exec(configText);
    if (!at) {
      throw new ScaffoldError(`could not find 'agents: [' in ${options.config}; add this entry to its agents yourself:\n${configEntry}`);
    }
    const insertAt = at.index + at[0].length;
    newConfig = `${configText.slice(0, insertAt)}${configEntry}\n${configText.slice(insertAt)}`;
  }

  const fromTest = (file: string) => {
    const path = relative(dirname(testFile), file).split('\\').join('/').replace(/\.ts$/, '');
    return path.startsWith('.') ? path : `./${path}`;
  };
  const agentSource = `import type { AgentContext } from '${pkg}';

/**
 * ${id}: reads what it noted last time, notes this run, and emits one output for the slot. Replace the body with
 * the agent's job; keep the shape: read memory, do the work (\`ctx.model\`, \`ctx.retrieve\`), submit memory, emit.
 */
export async function work(ctx: AgentContext): Promise<string> {
  const last = await ctx.memory.read<{ slot: string; runs: number }>('${namespace}', 'last-run');
  const note = { slot: ctx.invocation.scheduledTime, runs: (last?.runs ?? 0) + 1, degraded: ctx.degraded !== undefined };
  await ctx.memory.put('${namespace}', 'last-run', note);
  await ctx.emit({ agent: ctx.agentId, slot: note.slot });
  return \`${id} ran for \${note.slot} (run \${note.runs})\`;
}
`;
  const testSource = `import { describe, expect, it } from 'vitest';
import { runAgentOnce } from '${pkg}/testing';
import pipeline from '${fromTest(configPath)}';
import { work } from '${fromTest(agentFile)}';

describe('${id}', () => {
  it('completes a run, notes it in memory through the steward, and emits one output', async () => {
    const run = await runAgentOnce(pipeline, '${id}', work, { memory: [{ namespace: '${namespace}', key: 'last-run', value: { slot: 'earlier', runs: 2 } }] });
    try {
      expect(run.outcome.status).toBe('completed');
      expect((await run.memory.get('${namespace}', 'last-run'))?.value).toMatchObject({ runs: 3 });
      expect(run.outputs).toHaveLength(1);
    } finally {
      await run.stop();
    }
  }, 120_000);
});
`;
  mkdirSync(dirname(agentFile), { recursive: true });
  mkdirSync(dirname(testFile), { recursive: true });
  writeFileSync(agentFile, agentSource);
  writeFileSync(testFile, testSource);
  writeFileSync(configPath, newConfig);
  return {
    written: [configPath, agentFile, testFile].map((f) => relative(root, f)),
    undo: () => {
      if (configText === undefined) rmSync(configPath, { force: true });
      else writeFileSync(configPath, configText);
      rmSync(agentFile, { force: true });
      rmSync(testFile, { force: true });
    },
  };
}
