import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BreakerState } from '../../../src/runtime/breaker/breaker-state.ts';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { approvalPage } from '../../../src/runtime/review/approval-page.ts';
import type { ReviewDeps } from '../../../src/runtime/review/decisions.ts';
import { ReviewDigest } from '../../../src/runtime/review/digest.ts';
import { HeldOutputs } from '../../../src/runtime/review/held-outputs.ts';
import { LinkSigner } from '../../../src/runtime/review/links.ts';
import { dynamoForTest } from '../../support/dynamo.ts';

const HOUR = 60 * 60_000;
const KEY = 'k'.repeat(48);
let client: DynamoDBDocumentClient;
let names: { counters: string; coordination: string };

beforeAll(async () => {
  const dynamo = await dynamoForTest('approval');
  client = DynamoDBDocumentClient.from(dynamo.client);
  names = dynamo.names;
});

let n = 0;
/** A held output store, decisions whose publishing run is recorded (and marks the output published), and a breaker. */
function parts(state: Partial<BreakerState> = {}, agentId = 'poster') {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 3));
  const held = new HeldOutputs({ client, tableName: names.counters, clock });
  const published: string[] = [];
  const review: ReviewDeps = {
    held,
    breakerState: async () => ({ status: 'CLOSED', epoch: 0, trips: 0, restoreSchedules: [], ...state }),
    publish: async (agentId, outputId) => {
      const started = await held.startPublishing(agentId, outputId);
      if (!started.ok) return { status: 'completed', detail: 'already' };
      published.push(outputId);
      await held.finishPublishing(agentId, outputId, { ok: true });
      return { status: 'completed', detail: 'published' };
    },
  };
  const hold = async (payload: unknown = { text: 'hello' }) => {
    const outputId = `run-${++n}:0`;
    await held.hold({ agentId, outputId, runId: `run-${n}`, via: 'post', payload, degraded: true, reasons: ['degraded: writer failed'], expiresAfterHours: 6, onExpiry: 'discard' });
    return outputId;
  };
  return { clock, held, review, published, hold, signer: new LinkSigner(KEY) };
}

describe('approval links', () => {
  it('verify what they were signed with, and nothing changed, cut short, signed with another key or expired', () => {
    const signer = new LinkSigner(KEY);
    const claim = { agentId: 'poster', outputId: 'r:0', action: 'approve' as const, expiresAt: 1_000 };
    const token = signer.token(claim);
    expect(signer.verify(token, 999)).toEqual({ ok: true, claim });
    const [body, signature] = token.split('.') as [string, string];
    const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), d: 'reject' })).toString('base64url');
    expect(signer.verify(`${other}.${signature}`, 0)).toMatchObject({ ok: false, why: expect.stringContaining('not one the pipeline signed') });
    expect(signer.verify(`${body}.${signature.slice(0, -1)}`, 0)).toMatchObject({ ok: false });
    expect(signer.verify(body, 0)).toMatchObject({ ok: false });
    expect(new LinkSigner('x'.repeat(48)).verify(token, 0)).toMatchObject({ ok: false, why: expect.stringContaining('not one the pipeline signed') });
    expect(signer.verify(token, 1_000)).toMatchObject({ ok: false, why: 'This link expired at 1970-01-01T00:00:01.000Z.' });
    expect(signer.verify(undefined, 0)).toMatchObject({ ok: false });
    expect(() => new LinkSigner('short')).toThrow(/at least 32 bytes/);
    // Two links for the same decision differ (a nonce), so a leaked one says nothing of another.
    expect(signer.token(claim)).not.toBe(token);
  });
});

describe('the approval page', () => {
  it('shows the output on a GET and decides nothing; the confirming POST approves and publishes once; a second use decides nothing', async () => {
    const { clock, held, review, published, hold, signer } = parts();
    const outputId = await hold({ text: '<script>alert(1)</script>' });
    const approve = signer.token({ agentId: 'poster', outputId, action: 'approve', expiresAt: clock.now() + 6 * HOUR });
    const reject = signer.token({ agentId: 'poster', outputId, action: 'reject', expiresAt: clock.now() + 6 * HOUR });
    const deps = { signer, review, clock, label: 'test (dev)' };

    const shown = await approvalPage(deps, { method: 'GET', token: approve, source: '203.0.113.9' });
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('<button type="submit" id="confirm">Approve and publish</button>');
    expect(shown.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(shown.body).not.toContain('<script>');
    expect(shown.headers).toMatchObject({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    // A scanner fetching the link twice decides nothing.
    await approvalPage(deps, { method: 'GET', token: approve, source: 'scanner' });
    expect((await held.get('poster', outputId))?.status).toBe('held');

    const done = await approvalPage(deps, { method: 'POST', token: approve, source: '203.0.113.9' });
    expect(done.status).toBe(200);
    expect(done.body).toContain('<h1>Published</h1>');
    expect(published).toEqual([outputId]);
    expect((await held.get('poster', outputId))?.decision).toMatchObject({ action: 'approve', by: 'approval link (203.0.113.9)' });

    for (const [method, token] of [['POST', approve], ['GET', approve], ['POST', reject]] as const) {
      const again = await approvalPage(deps, { method, token, source: 'x' });
      expect(again.status).toBe(409);
    }
    expect(published).toEqual([outputId]);
    expect((await approvalPage(deps, { method: 'DELETE', token: approve, source: 'x' })).status).toBe(405);
  });

  it('refuses a changed or expired link and an approval while the breaker is open, deciding nothing', async () => {
    const { clock, held, review, hold, signer } = parts({ status: 'OPEN', detail: 'planner looped' });
    const outputId = await hold();
    const deps = { signer, review, clock, label: 'test (dev)' };
    const token = signer.token({ agentId: 'poster', outputId, action: 'approve', expiresAt: clock.now() + HOUR });
    const changed = await approvalPage(deps, { method: 'POST', token: `${token.slice(0, -2)}xx`, source: 'x' });
    expect(changed.status).toBe(403);
    const open = await approvalPage(deps, { method: 'POST', token, source: 'x' });
    expect(open.status).toBe(409);
    expect(open.body).toContain('the breaker is OPEN (planner looped)');
    await clock.advance(HOUR);
    const late = await approvalPage(deps, { method: 'POST', token, source: 'x' });
    expect(late.status).toBe(403);
    expect(late.body).toContain('This link expired at');
    expect((await held.get('poster', outputId))?.status).toBe('held');
  });
});

describe('the digest of held outputs', () => {
  it('pages once for what was held since the last digest, with signed links, at most hourly; overlapping runs page once', async () => {
    const { clock, review, hold, signer } = parts({}, 'digester');
    const pages: { subject: string; message: string }[] = [];
    const coordination = `${names.coordination}`;
    const digest = (table = coordination) =>
      new ReviewDigest({ review, reviews: { digester: { onExpiry: 'discard' } }, client, tableName: table, clock, alerts: { publish: async (p) => void pages.push(p) }, label: 'test (dev)', links: { signer, page: 'https://approve.example/' }, target: '--stage dev' });
    const first = await hold();
    const second = await hold();
    const runs = await Promise.all([digest().run(), digest().run(), digest().run()]);
    expect(runs.filter((r) => r.paged)).toHaveLength(1);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.subject).toBe('[test (dev)] 2 output(s) held for review');
    for (const id of [first, second]) expect(pages[0]!.message).toContain(`digester ${id}: held 0 min ago`);
    const links = [...pages[0]!.message.matchAll(/(approve|reject): (https:\/\/approve\.example\/\?t=\S+)/g)];
    expect(links).toHaveLength(4);
    expect(signer.verify(new URL(links[0]![2]!).searchParams.get('t')!, clock.now())).toMatchObject({ ok: true, claim: { outputId: first, action: 'approve' } });

    // Nothing new: nothing paged. Held within the hour after a digest: paged with the next, alone.
    await clock.advance(10 * 60_000);
    const third = await hold();
    expect((await digest().run()).paged).toBe(false);
    await clock.advance(HOUR);
    expect((await digest().run()).listed).toEqual([third]);
    // Expiry (6 hours) discards all three, counted in the next digest.
    await clock.advance(6 * HOUR);
    const expiring = await digest().run();
    expect(expiring.expired).toHaveLength(3);
    expect(pages.at(-1)!.subject).toBe('[test (dev)] 0 output(s) held for review, 3 expired');
    expect(pages.at(-1)!.message).toContain(`digester ${first}: discarded`);
  });
});
