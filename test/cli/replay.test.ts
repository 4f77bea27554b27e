import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { breakerReset, saveSnapshot } from '../../cli/ops.ts';
import { parseReplay, replayLocal } from '../../cli/replay.ts';
import { readSnapshot } from '../../cli/snapshot.ts';
import { localTarget, localTargetOn } from '../../cli/target.ts';
import { SIMULATION_START, simulate } from '../../local/runner.ts';
import { causalChain } from '../fixtures/causal-chain.ts';
import { UsageError } from '../../src/errors.ts';

const chain = causalChain('replayed');
const agents = chain.agents.map((a) => a.id);

describe('nightshift replay', () => {
  it('checks its arguments before starting anything', () => {
    const now = SIMULATION_START.getTime();
    expect(() => parseReplay(undefined, {}, agents, () => now)).toThrow(UsageError);
    expect(() => parseReplay(undefined, { refused: true }, agents, () => now)).toThrow('--failed and --refused need --since <time>');
    expect(() => parseReplay('run-1', { failed: true, since: '-1h' }, agents, () => now)).toThrow('not both');
    expect(() => parseReplay(undefined, { failed: true, since: 'yesterday' }, agents, () => now)).toThrow(/^--since must be an ISO time with a zone/);
    // A task id names its agent: an unknown one is refused before anything starts.
    expect(() => parseReplay('nosuch@event:123', {}, agents, () => now)).toThrow("No agent 'nosuch'");
    expect(() => parseReplay(undefined, { failed: true, since: '-1h', agent: 'nobody' }, agents, () => now)).toThrow("No agent 'nobody'");
    expect(parseReplay(undefined, { refused: true, since: '-2h' }, agents, () => now)).toEqual({ failed: false, refused: true, since: now - 7_200_000 });
  });

  it('after a loop and a reset, replays the refused triggered runs once each, with their trigger input; a second replay runs nothing', { timeout: 240_000 }, async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-replay-')), 'state');
    // As `nightshift local` leaves its state: the snapshot the read commands use, and run.json.
    const rehearsal = await simulate({
      pipeline: chain,
      scenario: 'normal',
      inject: ['loop:summarizer@02:30'],
      hours: 6,
      stateDir,
      onFinished: async ({ dynamoEndpoint, result }) => saveSnapshot(localTargetOn(chain, stateDir, dynamoEndpoint, result), stateDir),
    });
    writeFileSync(join(stateDir, 'run.json'), JSON.stringify(rehearsal));
    expect(rehearsal.alerts).toHaveLength(1);
    const refused = rehearsal.runs.filter((r) => r.status === 'halted' && r.trigger?.kind === 'output');
    expect(refused.length).toBeGreaterThanOrEqual(4); // the looping summarizer's own run, and the notifier runs its outputs started

    const target = await localTarget(chain, stateDir);
    let reset;
    try {
      reset = await breakerReset(target, { config: 'chain.config.ts', stateDir });
      await saveSnapshot(target, stateDir);
    } finally {
      await target.close();
    }
    const data = reset.data as { refusedWhileOpen: number; triggeredRefused: number; replay: string; openSince: string };
    expect(data.triggeredRefused).toBe(refused.length - 1); // the summarizer's looping run started before the trip
    // The command to type next, with the same target and config.
    expect(reset.text).toContain(`nightshift replay --refused --since ${new Date(rehearsal.alerts[0]!.at).toISOString().slice(0, 16)}`);
    expect(reset.text).toMatch(new RegExp(`--local --state-dir ${stateDir} --config chain.config.ts$`, 'm'));

    // As the reset says: the runs refused since the breaker opened.
    const since = (reset.data as { openSince: string }).openSince;
    const request = () => parseReplay(undefined, { refused: true, since }, agents, () => readSnapshot(stateDir).now);
    const first = (await replayLocal(chain, stateDir, request())).data as { replayed: { agentId: string; replays: string; status: string; taskId?: string }[] };
    const taken = first.replayed.filter((r) => r.status !== 'left out');
    expect(taken.map((r) => r.status)).toEqual(taken.map(() => 'completed'));
    expect(taken.map((r) => r.agentId)).toEqual(refused.filter((r) => r.agentId === 'notifier').map(() => 'notifier'));
    for (const r of taken) expect(r.taskId).toBe(`${r.agentId}@replay:${r.replays}`);

    const second = (await replayLocal(chain, stateDir, request())).data as { replayed: { status: string }[] };
    expect(second.replayed.filter((r) => r.status !== 'left out').map((r) => r.status)).toEqual(taken.map(() => 'skipped'));
  });
});
