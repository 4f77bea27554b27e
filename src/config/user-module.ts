import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Loads one of the user's modules (the pipeline config, an agent) as their project compiles it. In an ES module
 * project (`"type": "module"`, or a `.mts`) it is imported. In a CommonJS project (a `cdk init` app) a TypeScript
 * file is required through tsx, so its `import … from 'nightshift'` becomes a `require()` of this package's ES
 * modules, as in the user's own app: importing it as an ES module instead makes Node refuse the require it turns
 * into ("Cannot require() ES Module … in a cycle").
 */
export async function importUserModule(path: string): Promise<Record<string, unknown>> {
  const file = resolve(path);
  if (/\.c?ts$/.test(file) && (file.endsWith('.cts') || !isModulePackage(dirname(file)))) {
    const { require } = await import('tsx/cjs/api');
    return require(file, import.meta.url) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** Whether the nearest package.json above `dir` says `"type": "module"`. */
function isModulePackage(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = join(at, 'package.json');
    if (existsSync(manifest)) return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module';
    if (dirname(at) === at) return false;
  }
}
