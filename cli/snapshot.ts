import { UsageError } from '../src/errors.ts';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryEntry } from '../src/runtime/memory/reader.ts';
import type { RunEntry } from '../src/runtime/run-history.ts';
import type { StatusData } from './render.ts';
import type { ScheduleRow } from './views.ts';

/**
 * What a local run leaves for the read commands: the status as the state stood when the run (or the last local
 * mutation, such as `breaker reset --local`) finished, and every memory entry. Read commands on `--local` read
 * this file and start nothing: no JVM, no DynamoDB Local. Only mutations start DynamoDB Local, and they write the
 * snapshot again before it stops, so a read after them shows their effect.
 *
 * This module imports no AWS SDK and no runtime code: a read command loads only it and the renderer.
 */
export interface Snapshot {
  readonly version: 1;
  /** ISO time the snapshot was written (wall clock). */
  readonly writtenAt: string;
  /** "Now" of the state: the end of the simulated run (epoch ms). */
  readonly now: number;
  readonly status: StatusData;
  /** Live entries by namespace, in key order. */
  readonly memory: Readonly<Record<string, readonly MemoryEntry[]>>;
  readonly schedules: readonly ScheduleRow[];
  /** The newest runs, newest first. */
  readonly runs: readonly RunEntry[];
}

const FILE = 'snapshot.json';

export function writeSnapshot(stateDir: string, snapshot: Omit<Snapshot, 'version' | 'writtenAt'>): void {
  const file = join(stateDir, FILE);
  // Written whole, then renamed over the old one: a reader never sees half a snapshot.
  writeFileSync(`${file}.tmp`, JSON.stringify({ version: 1, writtenAt: new Date().toISOString(), ...snapshot }));
  renameSync(`${file}.tmp`, file);
}

/** The snapshot, or undefined when the state directory has none (a run that ended before this version). */
export function readSnapshotIfAny(stateDir: string): Snapshot | undefined {
  return existsSync(join(stateDir, FILE)) ? readSnapshot(stateDir) : undefined;
}

export function readSnapshot(stateDir: string): Snapshot {
  const file = join(stateDir, FILE);
  if (!existsSync(file)) {
    throw new UsageError(`No local run in ${stateDir} (no ${FILE}): run \`npm start\` (nightshift local) first, or pass --state-dir`);
  }
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  if (snapshot.version !== 1) throw new UsageError(`${file} was written by another version of nightshift: run \`nightshift local\` again`);
  return snapshot;
}
