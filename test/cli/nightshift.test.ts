import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../local/faults.ts';
import { nightshift } from '../support/subprocess.ts';

describe('nightshift CLI', () => {
  it('lists every fault kind in `local --help`', { timeout: 60_000 }, async () => {
    const help = await nightshift('local', '--help');
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const kind of FAULT_KINDS) expect(text).toContain(`${kind}:`);
  });

  const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-cli-')), 'state');

  // A hang guard that holds on a fully loaded 2-core machine: the steps below take about 40 s idle.
  it('runs the 3am scenario, prints the summary and exits 0 when the guardrails held; status reads the state it left', { timeout: 240_000 }, async () => {
    const local = await nightshift('local', '--scenario', '3am', '--hours', '6', '--state-dir', stateDir);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain("Scenario '3am': 6 simulated hours");
    expect(local.stdout).toMatch(/PASS +loop: exactly one alert \(1 alerts\)/);
    expect(local.stdout).toContain('All guardrails held');

    // Reads of the state the run left, all at once: each reads the snapshot and starts nothing.
    const [status, schedulesRead, runsRead, text, badLimit, listRead, draft] = await Promise.all([
      nightshift('status', '--local', '--state-dir', stateDir, '--json'),
      nightshift('schedules', '--local', '--state-dir', stateDir, '--json'),
      nightshift('runs', '--agent', 'planner', '--limit', '50', '--local', '--state-dir', stateDir, '--json'),
      nightshift('runs', '--limit', '2', '--local', '--state-dir', stateDir),
      nightshift('runs', '--limit', '0', '--local', '--state-dir', stateDir),
      nightshift('memory', 'list', 'drafts', '--local', '--state-dir', stateDir, '--json'),
      nightshift('memory', 'get', 'drafts', 'index', '--local', '--state-dir', stateDir, '--json'),
    ]);
    expect(status.code).toBe(0);
    const data = JSON.parse(status.stdout);
    expect(data.breaker).toMatchObject({ status: 'OPEN', reason: 'outputs', agentId: 'planner' });
    expect(data.heartbeats.map((h: { agentId: string }) => h.agentId)).toEqual(['planner', 'writer', 'seo', 'community', 'analyst']);
    expect(data.heartbeats.find((h: { agentId: string }) => h.agentId === 'planner').status).toBe('failed');
    // The watch saw the trip (its own alert was the page) and holds it open until the breaker closes.
    expect(data.incidents).toEqual([expect.objectContaining({ key: 'breaker', subject: expect.stringMatching(/^circuit breaker OPEN: planner/), openedAt: expect.stringMatching(/^2026-11-25T0/) })]);

    // The halt disabled every schedule: `schedules` says so, with each next fire time in its own zone.
    const schedules = JSON.parse(schedulesRead.stdout);
    expect(schedules).toHaveLength(12);
    expect(schedules.every((s: { enabled: boolean }) => !s.enabled)).toBe(true);
    const newYork = schedules.find((s: { timeZone: string }) => s.timeZone === 'America/New_York');
    expect(newYork.description).toMatch(/09:00.*Monday through Friday.*America\/New_York/);
    // The run ended at 06:00 UTC on Wednesday 2026-11-25: the next 09:00 New York is 14:00 UTC that day.
    expect(newYork.next[0]).toEqual({ at: '2026-11-25T14:00:00.000Z', local: '2026-11-25 09:00 America/New_York', in: 'in 8 h' });

    // Runs, newest first: the looping planner's refused runs, with task ids and the breaker's reason.
    const runs = JSON.parse(runsRead.stdout);
    expect(runs.length).toBeGreaterThan(10);
    expect(runs.every((r: { agentId: string }) => r.agentId === 'planner')).toBe(true);
    expect(runs[0]).toMatchObject({ status: 'halted', taskId: expect.stringMatching(/^planner@2026-11-25T0\d:/), detail: expect.stringContaining('breaker OPEN') });
    expect(runs.some((r: { status: string; published: number }) => r.status === 'completed' && r.published > 0)).toBe(true);
    const startedAt = runs.map((r: { startedAt: string }) => r.startedAt);
    expect([...startedAt].sort().reverse()).toEqual(startedAt);
    expect(text.stdout).toMatch(/^2026-11-25T\S+ \(\d+ h \d+ min ago\)\s+planner\s+halted\s+task planner@/m);
    expect(badLimit.stderr).toContain("--limit must be a whole number from 1 to 1000; got '0'");

    const list = JSON.parse(listRead.stdout);
    expect(list.map((e: { key: string }) => e.key)).toContain('index');

    expect(JSON.parse(draft.stdout)).toMatchObject({ namespace: 'drafts', key: 'index', updatedBy: 'writer' });
    // Reads come from the snapshot the run left: nothing is started for them.
    expect([status, schedulesRead, runsRead, text, listRead, draft].map((r) => r.stderr).join('')).not.toContain('starting');

    const reset = await nightshift('breaker', 'reset', '--local', '--state-dir', stateDir);
    expect(reset.stderr).toContain(`nightshift: starting DynamoDB Local on ${stateDir} to close the breaker`);
    expect(reset.stdout).toMatch(/^Breaker closed\. Schedules re-enabled: planner-0, .*analyst-0\.$/m);
    // The mutation wrote the snapshot again: the next read shows its effect.
    const [after, restoredRead] = await Promise.all([
      nightshift('status', '--local', '--state-dir', stateDir),
      nightshift('schedules', '--local', '--state-dir', stateDir, '--json'),
    ]);
    expect(after.stdout).toContain('breaker: CLOSED');
    const restored = JSON.parse(restoredRead.stdout);
    expect(restored.every((s: { enabled: boolean }) => s.enabled)).toBe(true);

    // Run the writer by hand an hour after the run ended: its real handler, through the guard, on this state.
    const invoked = await nightshift('invoke', 'writer', '--at', '+1h', '--local', '--state-dir', stateDir, '--json');
    expect(invoked.stderr).toContain('starting DynamoDB Local and the local SQS');
    const outcome = JSON.parse(invoked.stdout);
    expect(outcome).toMatchObject({ status: 'completed', taskId: 'writer@2026-11-25T07:00:00.000Z' });
    // The planner's last run was halted: the writer ran degraded, and its run is in the history with the reason.
    expect(outcome.degraded.reasons[0]).toMatch(/^planner's last run failed/);
    const latest = JSON.parse((await nightshift('runs', '--agent', 'writer', '--limit', '1', '--local', '--state-dir', stateDir, '--json')).stdout);
    expect(latest).toEqual([expect.objectContaining({ taskId: 'writer@2026-11-25T07:00:00.000Z', status: 'completed', degraded: true, published: 1 })]);

    // Trip, reset, resume: the pipeline recovers on the same state. `--json` prints only JSON, times as ISO.
    const resumed = await nightshift('local', '--resume', '--hours', '4', '--state-dir', stateDir, '--json');
    expect(resumed.code).toBe(0);
    const recovery = JSON.parse(resumed.stdout);
    expect(recovery.resumed).toBe(true);
    expect(recovery).toMatchObject({ start: '2026-11-25T07:00:00.000Z', end: '2026-11-25T11:00:00.000Z', breaker: 'CLOSED', passed: true });
    expect(recovery.checks.map((c: { name: string }) => c.name)).toContain('every scheduled slot ran');
    expect(recovery.memory.applied).toBe(recovery.memory.submitted);
    expect(resumed.stdout).not.toMatch(/"(start|end|at|since)":\d/);
  });

  it('refuses to invoke with a bad --at or an unknown agent, before starting anything', async () => {
    const [badAt, unknown] = await Promise.all([
      nightshift('invoke', 'writer', '--at', 'tomorrow', '--local', '--state-dir', stateDir),
      nightshift('invoke', 'nobody', '--local', '--state-dir', stateDir),
    ]);
    expect(badAt.code).toBe(2);
    expect(badAt.stderr).toContain("--at must be an ISO time with a zone (2026-11-25T09:00:00Z) or relative to now (+30m, -2h, +1d); got 'tomorrow'");
    expect(unknown.stderr).toContain("No agent 'nobody' in this pipeline (agents: planner, writer, seo, community, analyst)");
    expect(badAt.stderr + unknown.stderr).not.toContain('starting');
  });

  it('never empties a directory it did not make, and checks --start, --resume, --hours against the faults and --report before starting anything', async () => {
    const mine = mkdtempSync(join(tmpdir(), 'nightshift-not-state-'));
    writeFileSync(join(mine, 'thesis.md'), 'irreplaceable');
    const [refused, badStart, nothing, short, report] = await Promise.all([
      nightshift('local', '--state-dir', mine),
      nightshift('local', '--start', 'next tuesday', '--state-dir', join(mine, 'state')),
      nightshift('local', '--resume', '--state-dir', join(mine, 'none')),
      nightshift('local', '--scenario', '3am', '--hours', '2', '--state-dir', join(mine, 'short')),
      nightshift('local', '--report', join(mine, 'missing', 'r.html'), '--state-dir', join(mine, 'state')),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`--state-dir ${mine} is not empty and was not made by nightshift local: choose an empty or new directory`);
    expect(readFileSync(join(mine, 'thesis.md'), 'utf8')).toBe('irreplaceable');

    expect(badStart.stderr).toContain("--start must be a date (2026-03-08) or an ISO time with a zone (2026-03-08T06:00:00Z); got 'next tuesday'");
    expect(nothing.stderr).toContain(`Nothing to resume in ${join(mine, 'none')}: run \`nightshift local\` first`);
    expect(short.stderr).toContain('--hours 2 ends the run at 2026-11-25T02:00:00.000Z, before loop:planner@03:00 (2026-11-25T03:00:00.000Z)');
    expect(short.stderr).toContain('run at least --hours 4');
    expect(report.stderr).toContain(`--report ${join(mine, 'missing', 'r.html')} cannot be written`);
    expect(refused.stderr + badStart.stderr + nothing.stderr + short.stderr + report.stderr).not.toContain('starting DynamoDB Local');
  });

  it('prints its version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
    expect((await nightshift('--version')).stdout.trim()).toBe(version);
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

  it('refuses an agent whose module is missing or exports no work, before starting anything', async () => {
    const result = await nightshift('local', '--config', 'test/fixtures/bad-entries.config.ts', '--state-dir', stateDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("agents[ghost].entry: agent 'ghost': agents/ghost.ts is not a file");
    expect(result.stderr).toContain("agents[lazy].entry: agent 'lazy': test/fixtures/agents/no-work.ts does not export `work`");
    expect(result.stderr).not.toContain('starting DynamoDB Local');
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

describe('nightshift send-event', () => {
  const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-desk-')), 'state');
  const desk = ['--config', 'examples/desk.config.ts', '--state-dir', stateDir];

  // A hang guard that holds on a fully loaded 2-core machine: the steps take about 20 s idle.
  it('puts an outside event on the local bus: the triage runs once for it, the reply once for the triage, and runs say why', { timeout: 240_000 }, async () => {
    const local = await nightshift('local', '--hours', '2', ...desk);
    expect(local.code).toBe(0);
    const sent = await nightshift('send-event', '--source', 'tickets', '--detail-type', 'Ticket opened', '--detail', '{"ticket":"T-1"}', '--local', ...desk, '--json');
    expect(sent.stderr).toContain('starting DynamoDB Local and the local SQS');
    const result = JSON.parse(sent.stdout);
    expect(result.runs).toEqual([
      expect.objectContaining({ agentId: 'triage', status: 'completed', published: 1, taskId: `triage@event:${result.eventId}`, trigger: `event tickets / Ticket opened (${result.eventId})` }),
      expect.objectContaining({ agentId: 'reply', status: 'completed', published: 1, trigger: expect.stringMatching(/^output .+:0 of triage$/) }),
    ]);
    const runs = await nightshift('runs', '--local', ...desk);
    expect(runs.stdout).toMatch(/reply +completed .*\n +run by output .+ of triage; 1 published/);
    expect(runs.stdout).toMatch(/triage +completed .*\n +run by event tickets \/ Ticket opened/);
  });

  it('refuses an event nothing runs on, an agent-only source, or a detail that is not a JSON object, before starting anything', async () => {
    const [nobody, reserved, notJson, notObject, noTarget] = await Promise.all([
      nightshift('send-event', '--source', 'tickets', '--detail-type', 'Ticket closed', '--local', ...desk),
      nightshift('send-event', '--source', 'nightshift.agent.triage', '--detail-type', 'Output published', '--local', ...desk),
      nightshift('send-event', '--source', 'tickets', '--detail-type', 'Ticket opened', '--detail', '{ticket', '--local', ...desk),
      nightshift('send-event', '--source', 'tickets', '--detail-type', 'Ticket opened', '--detail', '[1]', '--local', ...desk),
      nightshift('send-event', '--source', 'tickets', '--detail-type', 'Ticket opened', ...desk),
    ]);
    expect(nobody.stderr).toContain("no agent runs on 'tickets' / 'Ticket closed' on the pipeline bus: nothing was sent. Agents' event triggers: triage: tickets / Ticket opened on the pipeline bus");
    expect(reserved.stderr).toContain("sources starting with 'nightshift.' are agents' outputs, which only the agents put");
    expect(notJson.stderr).toContain('--detail is not JSON');
    expect(notObject.stderr).toContain('--detail must be a JSON object');
    expect(noTarget.stderr).toContain('choose one target: --local or --stage <stage>');
    for (const r of [nobody, reserved, notJson, notObject, noTarget]) {
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain('nightshift: starting');
    }
  });
});
