import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nightshift } from '../support/subprocess.ts';

const config = ['--config', 'test/fixtures/review.config.ts'];

describe('nightshift held, approve, reject', () => {
  const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-review-')), 'state');
  const local = [...config, '--local', '--state-dir', stateDir];

  // A hang guard that holds on a fully loaded 2-core machine: the steps take about 15 s idle.
  it('lists what the degraded runs held, approves one (published once, by whom), rejects the other, and refuses bad arguments before starting anything', { timeout: 240_000 }, async () => {
    const run = await nightshift('local', ...config, '--inject', 'crash:writer@02:00', '--inject', 'fail:writer@03:00', '--hours', '4', '--state-dir', stateDir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^poster +4 +0 +0 +2 +0 +0 +2 +0 +2 +5$/m); // its two degraded runs held their outputs

    const held = await nightshift('held', ...local, '--json');
    expect(held.code).toBe(0);
    const waiting = JSON.parse(held.stdout) as { id: string; agentId: string; status: string; reasons: string[]; preview: string; expiresAt: string; heldAt: string }[];
    expect(waiting.map((w) => [w.agentId, w.status, w.heldAt])).toEqual([
      ['poster', 'held', '2026-11-25T02:30:00.000Z'],
      ['poster', 'held', '2026-11-25T03:30:00.000Z'],
    ]);
    expect(waiting[0]!.reasons[0]).toMatch(/^degraded: writer last beat 30 min ago/);
    expect(waiting[1]!.expiresAt).toBe('2026-11-25T09:30:00.000Z');
    expect(waiting[0]!.preview).toContain('Announcing draft of');

    const approved = await nightshift('approve', waiting[0]!.id, ...local);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`^${waiting[0]!.id}: published: approved by .+ \\(nightshift CLI, local\\); published`));
    const rejected = await nightshift('reject', waiting[1]!.id, '--reason', 'stale draft', ...local, '--json');
    expect(JSON.parse(rejected.stdout)).toEqual([expect.objectContaining({ id: waiting[1]!.id, outcome: 'rejected', status: 'rejected' })]);
    const again = await nightshift('approve', waiting[0]!.id, ...local);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('is already published');

    const after = JSON.parse((await nightshift('held', ...local, '--all', '--json')).stdout) as { id: string; status: string; decision?: { action: string; by: string; reason?: string } }[];
    expect(after.map((a) => [a.status, a.decision?.action, a.decision?.reason])).toEqual([
      ['published', 'approve', undefined],
      ['rejected', 'reject', 'stale draft'],
    ]);
    // The approved output was published once, by a run of its own.
    const posts = JSON.parse((await nightshift('memory', 'get', 'desk', 'posts', ...local, '--json')).stdout) as { value: { outputId: string }[] };
    expect(posts.value.filter((p) => p.outputId === waiting[0]!.id)).toHaveLength(1);
    expect(posts.value.some((p) => p.outputId === waiting[1]!.id)).toBe(false);
    const runs = await nightshift('runs', '--agent', 'poster', '--limit', '5', ...local);
    expect(runs.stdout).toMatch(new RegExp(`task poster@publish:${waiting[0]!.id}\\n +run by approval of held output ${waiting[0]!.id}; 1 published`));
    expect(runs.stdout).toMatch(/degraded +task poster@2026-11-25T03:30:00\.000Z\n +run by schedule; 0 published, 1 held for review/);

    const [twoWays, notMinutes, nothingHeld] = await Promise.all([
      nightshift('local', ...config, '--approve-after', '30', '--reject-after', '10', '--state-dir', join(stateDir, 'x')),
      nightshift('local', ...config, '--approve-after', 'soon', '--state-dir', join(stateDir, 'x')),
      nightshift('local', '--approve-after', '30', '--state-dir', join(stateDir, 'x')),
    ]);
    expect(twoWays.stderr).toContain('choose one of --approve-after and --reject-after');
    expect(notMinutes.stderr).toContain("--approve-after must be a whole number of minutes from 0 to 20160; got 'soon'");
    expect(nothingHeld.stderr).toContain("--approve-after decides held outputs, and no agent of 'nightshift' has a review policy");
    for (const r of [twoWays, notMinutes, nothingHeld]) expect([r.code, r.stderr.includes('starting')]).toEqual([2, false]);

    const [noId, noAgent, notReviewed, unknown, both, ref] = await Promise.all([
      nightshift('approve', ...local),
      nightshift('reject', '--all', ...local),
      nightshift('held', '--agent', 'writer', ...local),
      nightshift('approve', '--all', '--agent', 'nobody', ...local),
      nightshift('approve', 'x:0', ...config, '--local', '--stage', 'dev'),
      nightshift('approve', 'x:0', '--local', '--state-dir', stateDir),
    ]);
    expect(noId.stderr).toContain('approve needs the id of a held output (`nightshift held` lists them), or --all --agent <id>');
    expect(noAgent.stderr).toContain('reject --all needs --agent <id>');
    expect(notReviewed.stderr).toContain('writer has no review policy (agents[writer].review): none of its outputs is ever held');
    expect(unknown.stderr).toContain("No agent 'nobody' in this pipeline");
    expect(both.stderr).toContain('choose one target: --local or --stage <stage>');
    // The reference pipeline reviews nothing.
    expect(ref.stderr).toContain('No agent of this pipeline has a review policy');
    for (const r of [noId, noAgent, notReviewed, unknown, both, ref]) {
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain('starting');
    }
  });
});
