import { NightshiftError } from '../src/errors.ts';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildFailure, buildSync, type Metafile } from 'esbuild';
import { ConfigError, type PipelineConfig } from '../src/config/pipeline.ts';

/**
 * A handler Nightshift ships (`steward`, `breaker-watchdog`, `pager-forwarder`, `shared/agent-handler`), by its
 * absolute path: found wherever the package is installed, whatever the app's working directory.
 */
export function builtInHandler(name: string): string {
  const file = name.endsWith('.ts') ? name : `${name}/handler.ts`;
  // The sources: this repository's, or the package's own `lambdas/` (this module may run from dist/lib), so an
  // agent's work importing from 'nightshift' and its handler are bundled from one copy.
  for (const relative of ['../lambdas/', '../../lambdas/']) {
    const source = fileURLToPath(new URL(`${relative}${file}`, import.meta.url));
    if (existsSync(source)) return source;
  }
  return fileURLToPath(new URL(`../lambdas/${file.replace(/\.ts$/, '.js')}`, import.meta.url));
}

/** The Lambda adapter every agent's work runs inside. */
const AGENT_HANDLER = builtInHandler('shared/agent-handler.ts');

/**
 * The handler file of an agent: its module exports only `work` (the agent id lives in the config alone), and the
 * handler around it is this generated two-liner, bundled in its place.
 */
export function agentEntry(workModule: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'nightshift-agent-')), 'index.ts');
  writeFileSync(
    file,
    // A namespace import: a module that exports no publishers is fine (its emits name none).
    `import * as agent from ${JSON.stringify(resolve(workModule))};\nimport { agentHandler } from ${JSON.stringify(AGENT_HANDLER)};\nexport const handler = agentHandler(agent.work, undefined, agent.publishers);\n`,
  );
  return file;
}

/**
 * Checks, before anything starts or bundles, that each agent's `entry` is a file that compiles and exports `work`,
 * read by esbuild without running the agent's code (its imports resolved, packages left out). Throws
 * {@link ConfigError} naming each agent and field that is wrong. Paths resolve against the working directory.
 */
export function checkAgentEntries(pipeline: { readonly agents: readonly Pick<PipelineConfig['agents'][number], 'id' | 'entry'>[] }): void {
  const issues: { path: string; message: string }[] = [];
  for (const agent of pipeline.agents) {
    const problem = entryProblem(agent.entry);
    if (problem) issues.push({ path: `agents[${agent.id}].entry`, message: `agent '${agent.id}': ${agent.entry} ${problem}` });
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** What is wrong with an agent module, or nothing. */
function entryProblem(entry: string): string | undefined {
  const file = resolve(entry);
  if (!existsSync(file) || !statSync(file).isFile()) return `is not a file (looked for ${file}); give the path of the agent's module from the project's root`;
  let exported: readonly string[];
  try {
    const { metafile } = buildSync({
      entryPoints: [file],
      bundle: true,
      write: false,
      outdir: join(tmpdir(), 'nightshift-entry-check'),
      format: 'esm',
      platform: 'node',
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
    });
    exported = Object.values(metafile.outputs).find((output) => output.entryPoint !== undefined)?.exports ?? [];
  } catch (error) {
    const first = (error as Partial<BuildFailure>).errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line}:${first.location.column})` : '';
    return `does not compile: ${first?.text ?? String(error)}${where}`;
  }
  if (exported.includes('work')) return undefined;
  return (
    `does not export \`work\`${exported.length ? ` (it exports: ${exported.join(', ')})` : ''}; ` +
    'an agent module exports its work as `export async function work(ctx: AgentContext) { … }`'
  );
}

/** What a function loads when its sandbox starts, and what it can load later, in bytes. */
export interface BundleSize {
  /** The entry file and every chunk it imports statically: read and compiled at cold start. */
  readonly coldStart: number;
  /** Chunks imported on first use only (rare-path clients, the tokenizer). */
  readonly lazy: number;
  /** Source files (relative to the project) compiled into what loads at cold start. */
  readonly coldStartInputs: readonly string[];
}

/** The file Lambda loads: `index.mjs`, whose `handler` export is the entry point. */
export const HANDLER = 'index.handler';

/**
 * Bundles a handler for Lambda's Node.js runtime with the locally installed esbuild (no Docker): ESM, minified,
 * tree-shaken, every dependency included (so the AWS SDK versions we test against are the ones that run, not the
 * runtime's). Code splitting puts each dynamic `import()` in a chunk of its own, so a client needed only on a rare
 * path costs nothing at cold start. No source maps: loading a 4 MB map on every cold start costs more than the
 * readable stack trace is worth.
 */
export function bundle(entry: string, outdir: string, options: { readonly target?: string } = {}): BundleSize {
  const { metafile } = buildSync({
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // The function's Node version (`node24` for nodejs24.x): syntax it runs natively is left as written.
    target: options.target ?? 'node22',
    minify: true,
    treeShaking: true,
    legalComments: 'none',
    mainFields: ['module', 'main'],
    // Nightshift itself from its TypeScript sources (the package ships them), as the handlers are. Custom conditions
    // replace esbuild's default `module` one, which picks the SDK's tree-shakeable ES builds: it is named again.
    conditions: ['nightshift-source', 'module'],
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
    logLevel: 'error',
    // Some CommonJS dependencies call require() for Node built-ins, which an ES module does not define.
    banner: { js: "import{createRequire as __nsRequire}from'node:module';const require=__nsRequire(import.meta.url);" },
  });
  return bundleSize(metafile);
}

function bundleSize(metafile: Metafile): BundleSize {
  const outputs = metafile.outputs;
  // Dynamic imports are entry points too: the handler's is the one named index.mjs.
  const entry = Object.keys(outputs).find((file) => file.endsWith('/index.mjs'));
  if (!entry) throw new NightshiftError('esbuild produced no entry file');
  const cold = new Set<string>();
  const visit = (file: string) => {
    if (cold.has(file)) return;
    cold.add(file);
    for (const imported of outputs[file]!.imports) if (imported.kind === 'import-statement' && imported.path in outputs) visit(imported.path);
  };
  visit(entry);
  let coldStart = 0;
  let lazy = 0;
  const inputs = new Set<string>();
  for (const [file, output] of Object.entries(outputs)) {
    if (!cold.has(file)) {
      lazy += output.bytes;
      continue;
    }
    coldStart += output.bytes;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (bytesInOutput > 0) inputs.add(input);
  }
  return { coldStart, lazy, coldStartInputs: [...inputs].sort() };
}
