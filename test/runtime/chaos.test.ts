import { describe, expect, inject, it } from 'vitest';
import { chaos } from '../../bench/chaos/chaos.ts';

/** A short seeded chaos run (the full one is `npm run chaos -- --seed 1 --runs 20`): every fault injected, no violation. */
describe('chaos', () => {
  it('holds every invariant under one seeded run of every fault', { timeout: 240_000 }, async () => {
    const tally = await chaos(inject('dynamoEndpoint'), 7, 1, 100);
    for (const fault of ['100-way lock races', 'agents killed mid-run, resumed late', 'stale-token writes', 'malformed, oversize, deep or out-of-range updates', 'redeliveries', 'store calls throttled', 'steward killed mid-batch (applied, never acknowledged)', '100-way breaker races', 'heartbeats under ±2 min clock skew']) {
      expect(tally.injected[fault], fault).toBeGreaterThan(0);
    }
    expect(tally.details).toEqual([]);
    expect(Object.values(tally.violations).every((n) => n === 0)).toBe(true);
  });
});
