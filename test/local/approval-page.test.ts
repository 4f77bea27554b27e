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

/** The local approval page in a real browser (Debian's Chromium, driven by playwright-core), from a digest's link. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const config = ['--config', 'test/fixtures/review.config.ts'];
let browser: Awaited<ReturnType<typeof chromium.launch>>;
let server: ChildProcess | undefined;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});
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
    const stateDir = join(mkdtempSync(join(tmpdir(), 'nightshift-approvals-')), 'state');
    const port = await freePort();
    const env = { NIGHTSHIFT_APPROVALS_PORT: String(port) };
    const run = await nightshift('local', ...config, '--inject', 'crash:writer@02:00', '--hours', '3', '--state-dir', stateDir);
    expect(run.code).toBe(0);
    // The run's digest (the watch's page): one output held, with its approve link to the local page.
    const pages = readFileSync(join(stateDir, 'pages.log'), 'utf8');
    expect(pages).toMatch(/\] 1 output\(s\) held for review\n/);
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
    expect(held).toEqual([expect.objectContaining({ id: claim.o, status: 'published', decision: expect.objectContaining({ by: 'approval link (127.0.0.1)' }) })]);
  });
});
