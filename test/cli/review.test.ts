import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSigner } from '../../src/runtime/review/links.ts';
import { nightshift } from '../support/subprocess.ts';

/**
 * Held outputs as a person meets them: a local run of the reviewed pipeline (its writer crashes at 02:00 and fails at
 * 03:00, so two of the poster's runs are degraded and their outputs held), run once for this file; then the digest's
 * link in a real browser (Debian's Chromium, driven by playwright-core) approves one, and the CLI lists, rejects and
 * refuses.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const config = ['--config', 'test/fixtures/review.config.ts'];
const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-review-')), 'state');
const local = [...config, '--local', '--state-dir', stateDir];
let browser: Awaited<ReturnType<typeof chromium.launch>>;
let server: ChildProcess | undefined;
let run: Awaited<ReturnType<typeof nightshift>>;

beforeAll(async () => {
  [browser, run] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] }),
    nightshift('local', ...config, '--inject', 'crash:writer@02:00', '--inject', 'fail:writer@03:00', '--hours', '4', '--state-dir', stateDir),
  ]);
}, 240_000);
afterAll(async () => {
  server?.kill('SIGKILL');
  await browser?.close();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

describe('the local approval page', () => {
  // A hang guard that holds on a loaded 2-core machine: the steps take about 20 s idle.
  it("approves one output from the digest's link and sees it published; the link again, a changed signature or an expired link approve nothing", { timeout: 240_000 }, async () => {
    const port = await freePort();
    const env = { NIGHTSHIFT_APPROVALS_PORT: String(port) };
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^poster +4 +0 +0 +2 +0 +0 +2 +0 +2 +5$/m); // its two degraded runs held their outputs
    // The run's digests (the watch's pages, at most one an hour): each held output once, with its approve link.
    const pages = readFileSync(join(stateDir, 'pages.log'), 'utf8');
    expect(pages.match(/\] 1 output\(s\) held for review\n/g)).toHaveLength(2);
    const link = /approve: (http:\/\/127\.0\.0\.1:8787\/\?t=\S+)/.exec(pages)?.[1];
    expect(link).toBeDefined();

    server = spawn(process.execPath, ['--conditions=nightshift-source', '--import', TSX, resolve('bin/nightshift.ts'), 'approvals', '--local', ...config, '--state-dir', stateDir, '--port', String(port)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const listening = await new Promise<string>((done, fail) => {
      let out = '';
      server!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n  reject')) done(out);
      });
      server!.once('exit', (code) => fail(new Error(`the approval page exited (${code}): ${out}`)));
    });
    expect(listening).toContain(`Approval page: http://127.0.0.1:${port}/`);
    // The digest's link, on the port this page was started on (its token as the digest signed it).
    const approve = link!.replace(':8787/', `:${port}/`);

    const page = await browser.newPage();
    const opened = await page.goto(approve);
    expect(opened?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Approve and publish?');
    expect(await page.locator('#payload').textContent()).toContain('Announcing draft of');
    await page.locator('#confirm').click();
    await page.waitForSelector('#outcome');
    expect(await page.locator('h1').textContent()).toBe('Published');
    expect(await page.locator('#outcome').textContent()).toMatch(/^approved by approval link \(127\.0\.0\.1\); published /);

    // The same link again: decided already. A changed signature, and an expired link: refused.
    const again = await page.goto(approve);
    expect(again?.status()).toBe(409);
    expect(await page.locator('h1').textContent()).toBe('Already published');
    const changed = await page.goto(`${approve.slice(0, -3)}AAA`);
    expect(changed?.status()).toBe(403);
    const signer = new LinkSigner(readFileSync(join(stateDir, 'approval.key'), 'utf8').trim());
    const token = new URL(approve).searchParams.get('t')!;
    const claim = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { a: string; o: string };
    const expired = await page.goto(signer.link(`http://127.0.0.1:${port}/`, { agentId: claim.a, outputId: claim.o, action: 'reject', expiresAt: Date.UTC(2026, 10, 25, 1) }));
    expect(expired?.status()).toBe(403);
    expect(await page.locator('body').textContent()).toContain('This link expired at 2026-11-25T01:00:00.000Z. Nothing was decided.');
    await page.close();

    server.kill('SIGTERM');
    await new Promise((done) => server!.once('exit', done));
    server = undefined;
    // Published once, by its own run; recorded as decided through the link.
    const posts = JSON.parse((await nightshift('memory', 'get', 'desk', 'posts', ...config, '--local', '--state-dir', stateDir, '--json')).stdout) as { value: { outputId: string }[] };
    expect(posts.value.filter((p) => p.outputId === claim.o)).toHaveLength(1);
    const held = JSON.parse((await nightshift('held', ...config, '--all', '--local', '--state-dir', stateDir, '--json')).stdout) as { id: string; status: string; decision: { by: string } }[];
    expect(held).toEqual([
      expect.objectContaining({ id: claim.o, status: 'published', decision: expect.objectContaining({ by: 'approval link (127.0.0.1)' }) }),
      expect.objectContaining({ status: 'held' }),
    ]);
  });
});

describe('nightshift held, approve, reject', () => {
  // A hang guard that holds on a fully loaded 2-core machine: the steps take about 15 s idle.
  it('lists what waits, rejects the other output (publishing nothing), refuses to approve again, and refuses bad arguments before starting anything', { timeout: 240_000 }, async () => {
    // After the browser's approval, one output waits: its reasons, expiry and a preview.
    const held = await nightshift('held', ...local, '--json');
    expect(held.code).toBe(0);
    const waiting = JSON.parse(held.stdout) as { id: string; agentId: string; status: string; reasons: string[]; preview: string; expiresAt: string; heldAt: string }[];
    expect(waiting.map((w) => [w.agentId, w.status, w.heldAt])).toEqual([['poster', 'held', '2026-11-25T03:30:00.000Z']]);
    expect(waiting[0]!.reasons[0]).toMatch(/^degraded: writer's last run failed/);
    expect(waiting[0]!.expiresAt).toBe('2026-11-25T09:30:00.000Z');
    expect(waiting[0]!.preview).toContain('Announcing draft of');
    const all = JSON.parse((await nightshift('held', ...local, '--all', '--json')).stdout) as { id: string; status: string }[];
    const published = all.find((a) => a.status === 'published')!;

    const rejected = await nightshift('reject', waiting[0]!.id, '--reason', 'stale draft', ...local, '--json');
    expect(JSON.parse(rejected.stdout)).toEqual([expect.objectContaining({ id: waiting[0]!.id, outcome: 'rejected', status: 'rejected' })]);
    const again = await nightshift('approve', published.id, ...local);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('is already published (approval link (127.0.0.1)');

    const after = JSON.parse((await nightshift('held', ...local, '--all', '--json')).stdout) as { id: string; status: string; decision?: { action: string; by: string; reason?: string } }[];
    expect(after.map((a) => [a.status, a.decision?.action, a.decision?.reason])).toEqual([
      ['published', 'approve', undefined],
      ['rejected', 'reject', 'stale draft'],
    ]);
    expect(after[1]!.decision!.by).toMatch(/ \(nightshift CLI, local\)$/);
    // Nothing rejected was published; the runs say which run published the approved one, and why the other waited.
    const posts = JSON.parse((await nightshift('memory', 'get', 'desk', 'posts', ...local, '--json')).stdout) as { value: { outputId: string }[] };
    expect(posts.value.some((p) => p.outputId === waiting[0]!.id)).toBe(false);
    const runs = await nightshift('runs', '--agent', 'poster', '--limit', '5', ...local);
    expect(runs.stdout).toMatch(new RegExp(`task poster@publish:${published.id}\\n +run by approval of held output ${published.id}; 1 published`));
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
