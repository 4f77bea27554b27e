#!/usr/bin/env node
// The package's build: CommonJS JavaScript in dist/ (one file per source file, so one copy of each class whichever
// way a project loads it) and TypeScript's declarations beside it.
//
// Why CommonJS alone: a `cdk init` project's Jest (ts-jest) and ts-node load packages with require(), which cannot
// load ES modules under Jest on any Node version; ES module projects and tsx import CommonJS through Node's own
// interop (esbuild annotates the export names for it). Shipping ES modules beside CommonJS would load two copies of
// every class into a project that reaches both (an `instanceof ConfigError` across them fails).
//
// Only what the package's entry points reach is built (the functions' handlers are bundled from their sources at
// synth, never loaded from dist/).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');
const entries = ['src/index.ts', 'lib/index.ts', 'local/agent-test.ts', 'bin/nightshift.ts'];

rmSync(outdir, { recursive: true, force: true });

// Every source file the entry points reach, statically or by import().
const graph = await build({
  absWorkingDir: root,
  entryPoints: entries,
  bundle: true,
  write: false,
  splitting: true,
  format: 'esm',
  platform: 'node',
  packages: 'external',
  metafile: true,
  outdir,
  logLevel: 'error',
});
const sources = Object.keys(graph.metafile.inputs).filter((file) => file.endsWith('.ts') && !file.startsWith('node_modules/'));

/** Relative imports stay imports of the sibling .js file; packages stay the project's own. */
const keepImports = {
  name: 'keep-imports',
  setup(on) {
    on.onResolve({ filter: /^\.\.?\// }, (args) => (args.kind === 'entry-point' ? undefined : { path: args.path.replace(/\.ts$/, '.js'), external: true }));
    on.onResolve({ filter: /^[^./]/ }, (args) => (args.kind === 'entry-point' ? undefined : { path: args.path, external: true }));
  },
};
await build({
  absWorkingDir: root,
  entryPoints: sources,
  outbase: '.',
  outdir,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  plugins: [keepImports],
  // `import.meta.url` is this file's URL, as it was in the ES module.
  define: { 'import.meta.url': '__nightshiftModuleUrl' },
  banner: { js: 'const __nightshiftModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'error',
});
// dist/ is CommonJS whatever the package's own sources are (its .js and its .d.ts alike).
mkdirSync(outdir, { recursive: true });
writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

// Declarations only, without checking types again (`npm run typecheck` checks them; `npm test` runs both at once):
// the same declarations, in two thirds of the time.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--noCheck'], { cwd: root, stdio: 'inherit' });
// On stderr: `npm pack --json` runs this build (prepack) and its stdout must stay JSON.
console.error(`built ${sources.length} modules into dist/ (CommonJS) with their declarations`);
