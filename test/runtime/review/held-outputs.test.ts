import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock.ts';
import { type HoldRequest, HeldOutputs } from '../../../src/runtime/review/held-outputs.ts';
import { dynamoForTest } from '../../support/dynamo.ts';

const HOUR = 60 * 60_000;
let client: DynamoDBDocumentClient;
let tableName: string;
let n = 0;

beforeAll(async () => {
  const dynamo = await dynamoForTest('held');
  client = DynamoDBDocumentClient.from(dynamo.client);
  tableName = dynamo.names.counters;
});

function fresh(overrides: Partial<HoldRequest> = {}): { held: HeldOutputs; clock: ManualClock; request: HoldRequest } {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 3));
  const request: HoldRequest = {
    agentId: 'community',
    outputId: `run-${++n}:0`,
    runId: `run-${n}`,
    via: 'post',
    payload: { text: 'New on the blog', n },
    degraded: true,
    reasons: ["degraded: writer's last run failed"],
    expiresAfterHours: 12,
    onExpiry: 'discard',
    ...overrides,
  };
  return { held: new HeldOutputs({ client, tableName, clock }), clock, request };
}

describe('held outputs', () => {
  it('holds an output once, with its payload, run, reasons and expiry; a second hold of it changes nothing', async () => {
    const { held, request } = fresh();
    expect(await held.hold(request)).toBe(true);
    expect(await held.hold({ ...request, payload: 'other' })).toBe(false);
    const output = await held.get('community', request.outputId);
    expect(output).toMatchObject({ status: 'held', payload: request.payload, runId: request.runId, via: 'post', degraded: true, reasons: request.reasons, expiresAt: Date.UTC(2026, 10, 25, 15) });
    expect((await held.list('community')).map((o) => o.outputId)).toContain(request.outputId);
  });

  it('refuses a payload over 64 KB of JSON, naming the output', async () => {
    const { held, request } = fresh({ payload: 'x'.repeat(70_000) });
    await expect(held.hold(request)).rejects.toThrow(new RegExp(`output ${request.outputId} of community: a held payload may take 65536 bytes`));
  });

  it('lets exactly one of 20 racing decisions through, and records who made it', async () => {
    const { held, request } = fresh();
    await held.hold(request);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => held.decide('community', request.outputId, { action: i % 3 === 0 ? 'reject' : 'approve', by: `person-${i}`, reason: `because ${i}` })),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const won = winners[0]!.ok ? winners[0]!.output : undefined;
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.why === 'decided' && r.output?.decision?.by === won?.decision?.by)).toBe(true);
    const stored = await held.get('community', request.outputId);
    expect(stored?.status).toBe(won?.decision?.action === 'approve' ? 'approved' : 'rejected');
    expect(stored?.decision).toMatchObject({ by: won?.decision?.by, at: Date.UTC(2026, 10, 25, 3), reason: won?.decision?.reason });
  });

  it('decides nothing after expiry, whatever the TTL did not yet delete; expiry then follows onExpiry once', async () => {
    for (const onExpiry of ['discard', 'publish'] as const) {
      const { held, clock, request } = fresh({ onExpiry });
      await held.hold(request);
      expect(await held.expire('community', request.outputId, onExpiry)).toMatchObject({ ok: false, why: 'not-expired' });
      await clock.advance(12 * HOUR);
      expect(await held.decide('community', request.outputId, { action: 'approve', by: 'late' })).toMatchObject({ ok: false, why: 'expired' });
      const expired = await Promise.all([held.expire('community', request.outputId, onExpiry), held.expire('community', request.outputId, onExpiry)]);
      expect(expired.filter((e) => e.ok)).toHaveLength(1);
      const stored = await held.get('community', request.outputId);
      expect(stored).toMatchObject({ status: onExpiry === 'publish' ? 'approved' : 'expired', decision: { action: 'expire', by: 'expiry' } });
    }
  });

  it('publishes an approved output once: one of 20 racing publishing runs claims it, and only an approved one', async () => {
    const { held, request } = fresh();
    await held.hold(request);
    expect(await held.startPublishing('community', request.outputId)).toMatchObject({ ok: false, why: 'not-approved' });
    await held.decide('community', request.outputId, { action: 'approve', by: 'alice' });
    const claims = await Promise.all(Array.from({ length: 20 }, () => held.startPublishing('community', request.outputId)));
    expect(claims.filter((c) => c.ok)).toHaveLength(1);
    expect(await held.finishPublishing('community', request.outputId, { ok: true })).toMatchObject({ ok: true, output: { status: 'published' } });
    expect(await held.finishPublishing('community', request.outputId, { ok: false, error: 'late' })).toMatchObject({ ok: false, why: 'not-publishing' });
    expect(await held.decide('community', request.outputId, { action: 'reject', by: 'bob' })).toMatchObject({ ok: false, why: 'decided' });
  });

  it('says an output it never held is missing', async () => {
    const { held } = fresh();
    expect(await held.decide('community', 'nope:0', { action: 'approve', by: 'alice' })).toEqual({ ok: false, why: 'missing' });
    expect(await held.startPublishing('community', 'nope:0')).toEqual({ ok: false, why: 'missing' });
  });

  it('never publishes what was not approved in time, whatever the interleaving of decisions, expiry and publishing runs (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant('approve'), fc.constant('reject'), fc.constant('expire'), fc.constant('publish'), fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('discard' as const, 'publish' as const),
        async (steps, onExpiry) => {
          const { held, clock, request } = fresh({ expiresAfterHours: 6, onExpiry });
          await held.hold(request);
          let decided: { action: string; at: number } | undefined;
          let publishedUnder: { action: string; at: number } | undefined;
          let publishing = 0;
          for (const step of steps) {
            if (typeof step === 'number') {
              await clock.advance(step * HOUR);
              continue;
            }
            const at = clock.now();
            const moved =
              step === 'publish'
                ? await held.startPublishing('community', request.outputId)
                : step === 'expire'
                  ? await held.expire('community', request.outputId, onExpiry)
                  : await held.decide('community', request.outputId, { action: step, by: 'p' });
            if (!moved.ok) continue;
            if (step === 'publish') {
              publishing++;
              publishedUnder = decided;
            } else {
              // A second decision only ever closes an approval that did not publish in time (a reject: never a republish).
              if (decided) expect([step, decided.action === 'approve' || decided.action === 'expire']).toEqual(['reject', true]);
              decided = { action: step, at };
            }
          }
          // Published at most once, and only under an approval made before expiry (or expiry with onExpiry publish).
          expect(publishing).toBeLessThanOrEqual(1);
          if (publishing === 1) {
            expect(publishedUnder).toBeDefined();
            if (publishedUnder!.action === 'approve') expect(publishedUnder!.at).toBeLessThan(Date.UTC(2026, 10, 25, 9));
            else expect([publishedUnder!.action, onExpiry]).toEqual(['expire', 'publish']);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
