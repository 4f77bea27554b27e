import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { type BundleSize, agentEntry, bundle } from '../../lib/bundling.ts';
import { NightshiftFunction } from '../../lib/nightshift-function.ts';
import { NightshiftStack } from '../../lib/nightshift-stack.ts';
import type { PipelineConfig } from '../../src/config/pipeline.ts';

/**
 * Bundle sizes and cold module load of every function the stack deploys. Cold load is `import()` of the bundle in
 * a fresh Node process (what Lambda's init does before the handler runs), median of `samples`, against a bare
 * handler importing only the DynamoDB document client, bundled the same way and measured in the same run.
 */
export interface FunctionFigures extends BundleSize {
  readonly function: string;
  readonly coldLoadMs: number;
  readonly ratioVsBare: number;
}

export interface BundleFigures {
  readonly bareColdLoadMs: number;
  readonly bareBytes: number;
  readonly functions: readonly FunctionFigures[];
}

/** Every NightshiftFunction of the pipeline's stack, by construct path, with its entry file. */
export function stackFunctions(pipeline: PipelineConfig): { name: string; entry: string }[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new NightshiftStack(app, 'Bench', { pipeline });
  return stack.node
    .findAll()
    .filter((c): c is NightshiftFunction => c instanceof NightshiftFunction)
    .map((fn) => ({ name: fn.node.path.replace(/^Bench\//, '').replace(/\/Function$/, ''), entry: fn.kind === 'agent' ? agentEntry(fn.entry) : fn.entry }));
}

export function runBundleBench(pipeline: PipelineConfig, samples = 25): BundleFigures {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bundles-'));
  try {
    const bareDir = join(dir, 'bare');
    const bare = bundle('bench/bundles/bare-handler.ts', bareDir);
    const functions = stackFunctions(pipeline);
    const built = functions.map((fn, i) => ({ ...fn, out: join(dir, String(i)), size: bundle(fn.entry, join(dir, String(i))) }));
    // Interleave the samples so a busy moment of the machine hits every function alike.
    const times = new Map<string, number[]>([[bareDir, []], ...built.map((b) => [b.out, []] as [string, number[]])]);
    for (let s = 0; s < samples; s++) for (const out of times.keys()) times.get(out)!.push(coldLoad(join(out, 'index.mjs')));
    const bareMs = median(times.get(bareDir)!);
    return {
      bareColdLoadMs: bareMs,
      bareBytes: bare.coldStart,
      functions: built.map((b) => {
        const ms = median(times.get(b.out)!);
        return { function: b.name, ...b.size, coldLoadMs: ms, ratioVsBare: ms / bareMs };
      }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds to import the module in a fresh process: read, compile, run its top level. */
function coldLoad(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    encoding: 'utf8',
  });
  return Number(out);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
