import { buildSync } from 'esbuild';
import { agentEntry } from '../lib/bundling.ts';
const entry = agentEntry('lambdas/agents/planner/handler.ts');
const { metafile } = buildSync({ entryPoints: { index: entry }, outdir: '/tmp/bb', bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node22', minify: true, treeShaking: true, legalComments: 'none', mainFields: ['module', 'main'], conditions: ['nightshift-source', 'module'], outExtension: { '.js': '.mjs' }, chunkNames: 'chunks/[name]-[hash]', metafile: true, logLevel: 'error', write: true });
const out = Object.entries(metafile.outputs).find(([f]) => f.endsWith('/index.mjs'))!;
const cold = new Set<string>([out[0]]);
let grew = true;
while (grew) { grew = false; for (const f of [...cold]) for (const imp of metafile.outputs[f]!.imports) if (imp.kind === 'import-statement' && !cold.has(imp.path) && metafile.outputs[imp.path]) { cold.add(imp.path); grew = true; } }
const groups = new Map<string, number>();
for (const f of cold) for (const [p, v] of Object.entries(metafile.outputs[f]!.inputs)) { const g = p.includes('node_modules') ? p.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1') : p; groups.set(g, (groups.get(g) ?? 0) + v.bytesInOutput); }
let total = 0; for (const v of groups.values()) total += v;
console.log('total', total);
for (const [g, n] of [...groups].sort((x, y) => y[1] - x[1]).slice(0, 60)) console.log(n, g);
const z = new Map<string, number>();
for (const f of cold) for (const [p, v] of Object.entries(metafile.outputs[f]!.inputs)) if (p.includes('node_modules/zod') || p.includes('@smithy/core') || p.includes('@aws-sdk/core')) z.set(p.replace(/.*node_modules\//, ''), v.bytesInOutput);
for (const [g, n] of [...z].sort((x, y) => y[1] - x[1]).slice(0, 40)) console.log(n, g);
