import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The floors of the code base, lowest first: a module imports only from its own floor or below, and no import
 * loop exists at any level. `lib/` names the handlers it bundles by path, never by import, so the constructs and
 * the Lambda adapters stay apart.
 */
const FLOORS: readonly [prefix: string, floor: number][] = [
  ['src/errors.ts', 0],
  ['src/config/', 1],
  ['src/contract/', 2],
  ['src/runtime/', 2],
  ['lambdas/', 3],
  ['lib/', 3],
  ['local/', 4],
  ['cli/', 5],
  ['src/index.ts', 6],
  ['bin/', 6],
];

function floorOf(file: string): number {
  const match = FLOORS.find(([prefix]) => file === prefix || file.startsWith(prefix));
  if (!match) throw new Error(`${file} is on no floor: add its folder to FLOORS`);
  return match[1];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

const files = ['src', 'lambdas', 'lib', 'local', 'cli', 'bin'].flatMap(sources);
const known = new Set(files);

/** Every relative import of a file (static, type-only and dynamic), as repository paths. */
function importsOf(file: string): string[] {
  // Comments (examples in module docs) are not imports.
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => {
    const target = normalize(join(dirname(file), m[1]!));
    return known.has(`${target}.ts`) ? `${target}.ts` : known.has(target) ? target : join(target, 'index.ts');
  });
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('architecture', () => {
  it('has every import point at a module that exists', () => {
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !known.has(t)).map((t) => `${file} → ${t}`));
    expect(missing).toEqual([]);
  });

  it('never imports upward', () => {
    const upward = [...graph].flatMap(([file, targets]) => targets.filter((t) => floorOf(t) > floorOf(file)).map((t) => `${file} → ${t}`));
    expect(upward).toEqual([]);
  });

  it('keeps the constructs and the Lambda adapters apart', () => {
    const crossing = [...graph].flatMap(([file, targets]) =>
      targets.filter((t) => (file.startsWith('lib/') && t.startsWith('lambdas/')) || (file.startsWith('lambdas/') && t.startsWith('lib/'))).map((t) => `${file} → ${t}`),
    );
    expect(crossing).toEqual([]);
  });

  it('has no import loop', () => {
    // Tarjan's strongly connected components: any component of more than one module is a loop.
    let index = 0;
    const indices = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const loops: string[][] = [];
    const visit = (v: string) => {
      indices.set(v, index);
      low.set(v, index++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!indices.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
      if (low.get(v) === indices.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1) loops.push(component.sort());
      }
    };
    for (const file of graph.keys()) if (!indices.has(file)) visit(file);
    expect(loops).toEqual([]);
  });
});
