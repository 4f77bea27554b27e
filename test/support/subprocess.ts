import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** tsx's loader, by absolute URL: usable from any working directory (a project outside the repository too). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a TypeScript file in a Node process of its own, as users run it, through tsx's loader in that one process:
 * not `npx tsx`, which resolves the package and then starts a second Node (seconds per call on a busy machine).
 */
export async function runTs(file: string, args: readonly string[] = [], options: { cwd?: string; env?: NodeJS.ProcessEnv; asInstalled?: boolean } = {}): Promise<Finished> {
  // This repository's own files run on Nightshift's sources; a project that installed it (`asInstalled`) on dist/.
  const conditions = options.asInstalled ? [] : ['--conditions=nightshift-source'];
  try {
    const { stdout, stderr } = await exec(process.execPath, [...conditions, '--import', TSX, resolve(file), ...args], {
      maxBuffer: 16 * 1024 * 1024,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      env: { ...process.env, ...options.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The `nightshift` CLI as a user runs it. */
export function nightshift(...args: string[]): Promise<Finished> {
  return runTs('bin/nightshift.ts', args);
}
