import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

/** The CLI as users run it: a subprocess with its own DynamoDB Local. */
async function nightshift(...args: string[]) {
  try {
    const { stdout, stderr } = await exec('npx', ['tsx', 'bin/nightshift.ts', ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('nightshift CLI', () => {
  const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-cli-')), 'state');

  it('runs the 3am scenario, prints the summary and exits 0 when the guardrails held; status reads the state it left', async () => {
    const local = await nightshift('local', '--scenario', '3am', '--hours', '6', '--state-dir', stateDir);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain("Scenario '3am': 6 simulated hours");
    expect(local.stdout).toContain('PASS  loop: exactly one alert (1 alerts)');
    expect(local.stdout).toContain('All guardrails held.');

    const status = await nightshift('status', '--local', '--state-dir', stateDir, '--json');
    expect(status.code).toBe(0);
    const data = JSON.parse(status.stdout);
    expect(data.breaker).toMatchObject({ status: 'OPEN', reason: 'outputs', agentId: 'planner' });
    expect(data.heartbeats.map((h: { agentId: string }) => h.agentId)).toEqual(['planner', 'writer', 'seo', 'community', 'analyst']);
    expect(data.heartbeats.find((h: { agentId: string }) => h.agentId === 'planner').status).toBe('failed');

    const draft = await nightshift('memory', 'get', 'drafts', 'index', '--local', '--state-dir', stateDir, '--json');
    expect(JSON.parse(draft.stdout)).toMatchObject({ namespace: 'drafts', key: 'index', updatedBy: 'writer' });
    // Reads come from the snapshot the run left: nothing is started for them.
    expect(status.stderr + draft.stderr).not.toContain('starting');

    const reset = await nightshift('breaker', 'reset', '--local', '--state-dir', stateDir);
    expect(reset.stderr).toContain(`nightshift: starting DynamoDB Local on ${stateDir} to close the breaker`);
    expect(reset.stdout).toMatch(/^Breaker closed\. Schedules re-enabled: planner-0, .*analyst-0\.$/m);
    // The mutation wrote the snapshot again: the next read shows its effect.
    const after = await nightshift('status', '--local', '--state-dir', stateDir);
    expect(after.stdout).toContain('breaker: CLOSED');
  });

  it('names a bad option and exits non-zero', async () => {
    const result = await nightshift('local', '--scenario', 'tuesday', '--state-dir', stateDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("nightshift: --scenario must be one of normal, 3am, crash; got 'tuesday'");
  });

  it('refuses a fault naming an agent the pipeline does not have, before starting anything', async () => {
    const result = await nightshift('local', '--inject', 'crash:seo@14:15', '--inject', 'loop:nobody@03:00', '--state-dir', stateDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--inject 'loop:nobody@03:00': no agent 'nobody' in pipeline 'nightshift' (agents: planner, writer, seo, community, analyst)");
    expect(result.stderr).not.toContain('crash:seo');
  });

  it('refuses to evict a lock without --force', async () => {
    const result = await nightshift('locks', 'release', 'writer@2026-11-25T02:15:00.000Z', '--local', '--state-dir', stateDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Add --force to do it.');
    expect(result.stderr).not.toContain('starting');
  });

  it('says there is no local run to read instead of starting anything', async () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'nightshift-cli-')), 'none');
    const result = await nightshift('status', '--local', '--state-dir', empty);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`No local run in ${empty} (no snapshot.json): run \`npm start\` (nightshift local) first`);
  });
});
