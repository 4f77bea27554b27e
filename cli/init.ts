import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ScaffoldError, newAgent } from './scaffold.ts';

/**
 * `nightshift init [dir]`: a new project that works as it is. `npm install`, then `npm test` (its agent's test on
 * DynamoDB Local), `npx cdk synth` and `npx nightshift local` all run in it. It is an ES module project (what the
 * TypeScript config and agents are loaded as), with a CDK app that reads `-c config=<file>`. Nothing is written if
 * any file it would write is already there.
 */
export interface InitOptions {
  /** The project's folder (made if missing). */
  readonly dir: string;
  /** How the project depends on Nightshift: a version range, a tarball, a folder. @default ^<this version> */
  readonly packageSpec?: string;
  /** The first agent's id. @default 'scout' */
  readonly agent?: string;
}

/** This package's own package.json: its version and the versions of the tools a project needs beside it. */
export function manifest(): { version: string; peerDependencies: Record<string, string>; devDependencies: Record<string, string>; dependencies: Record<string, string> } {
  // Beside cli/ in the sources, two levels up from dist/cli (dist/package.json only says dist/ is CommonJS).
  for (const candidate of ['../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url))) {
    if (!existsSync(candidate)) continue;
    const parsed = JSON.parse(readFileSync(candidate, 'utf8'));
    if (parsed.name === 'nightshift') return parsed;
  }
  throw new Error(`nightshift's package.json is not above ${import.meta.url}`);
}

export function initProject(options: InitOptions): { root: string; written: string[] } {
  const root = resolve(options.dir);
  const own = manifest();
  const agent = options.agent ?? 'scout';
  const name = basename(root).toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '') || 'pipeline';
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        // The config and agents are ES modules in TypeScript, loaded as they are by tsx and bundled by esbuild.
        type: 'module',
        scripts: { test: 'tsc --noEmit && vitest run', synth: 'cdk synth', local: 'nightshift local' },
        // esbuild (bundling the functions at synth) checks its platform binary when installed.
        allowScripts: { esbuild: true },
        dependencies: {
          nightshift: options.packageSpec ?? `^${own.version}`,
          'aws-cdk-lib': own.peerDependencies['aws-cdk-lib'],
          constructs: own.peerDependencies.constructs,
        },
        devDependencies: {
          '@types/node': own.devDependencies['@types/node'],
          'aws-cdk': own.devDependencies['aws-cdk'],
          tsx: own.dependencies.tsx,
          typescript: own.devDependencies.typescript,
          vitest: own.devDependencies.vitest,
        },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'preserve',
          moduleResolution: 'bundler',
          types: ['node'],
          strict: true,
          skipLibCheck: true,
          isolatedModules: true,
          noEmit: true,
        },
        include: ['bin', 'agents', 'test', 'nightshift.config.ts'],
      },
      null,
      2,
    )}\n`,
    'cdk.json': `${JSON.stringify({ app: 'npx tsx bin/app.ts', context: { '@aws-cdk/core:newStyleStackSynthesis': true } }, null, 2)}\n`,
    'bin/app.ts': [
      "import { App } from 'aws-cdk-lib';",
      "import { pipelineApp } from 'nightshift/cdk';",
      '',
      '// The pipeline in nightshift.config.ts (or the file `-c config=<file>` names), in a stack of its own.',
      'await pipelineApp(new App());',
      '',
    ].join('\n'),
    '.gitignore': ['node_modules/', 'cdk.out/', '.nightshift/', ''].join('\n'),
  };
  const planned = [...Object.keys(files), 'nightshift.config.ts', `agents/${agent}.ts`, `test/${agent}.test.ts`];
  const existing = planned.filter((file) => existsSync(join(root, file)));
  if (existing.length > 0) {
    throw new ScaffoldError(`${relative(process.cwd(), root) || '.'} already has ${existing.join(', ')}; nightshift init never overwrites a file: choose an empty or new folder`);
  }
  mkdirSync(root, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  const scaffold = newAgent({ id: agent, config: 'nightshift.config.ts', root, scaffoldedBy: 'nightshift init' });
  return { root, written: [...Object.keys(files), ...scaffold.written] };
}
