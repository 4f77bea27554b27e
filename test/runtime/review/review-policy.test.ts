import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../../src/config/agent-spec.ts';
import type { OutputGuard } from '../../../src/runtime/breaker/output-guard.ts';
import { holdReasons, publisherNamed } from '../../../src/runtime/review/review-policy.ts';

const spec = (tokenBudgetPerDay?: number): AgentSpec => ({
  id: 'poster',
  leaseMinutes: 30,
  heartbeatIntervalMinutes: 5,
  upstream: [],
  breaker: { maxOutputs: 5, windowMinutes: 60 },
  duplicateWindowMinutes: 60,
  ...(tokenBudgetPerDay === undefined ? {} : { tokenBudgetPerDay }),
});
const spent = (tokens: number) => ({ tokensSpentToday: async () => tokens }) as unknown as OutputGuard;

describe('why an output is held', () => {
  it('names each matching reason, and only those the policy asks for', async () => {
    const degraded = { reasons: ["writer's last run failed"] };
    expect(await holdReasons(['degraded'], { spec: spec(), degraded: undefined, afterTrip: false, outputs: spent(0) })).toEqual([]);
    expect(await holdReasons(['degraded'], { spec: spec(), degraded, afterTrip: true, outputs: spent(0) })).toEqual(["degraded: writer's last run failed"]);
    expect(await holdReasons(['after-trip'], { spec: spec(), degraded, afterTrip: true, outputs: spent(0) })).toHaveLength(1);
    expect(await holdReasons(['always', 'degraded'], { spec: spec(), degraded, afterTrip: false, outputs: spent(0) })).toEqual(['always: every output of this agent is reviewed', "degraded: writer's last run failed"]);
  });

  it("holds for 'budget' from 80% of the day's tokens spent, not before", async () => {
    expect(await holdReasons(['budget'], { spec: spec(1000), degraded: undefined, afterTrip: false, outputs: spent(799) })).toEqual([]);
    expect(await holdReasons(['budget'], { spec: spec(1000), degraded: undefined, afterTrip: false, outputs: spent(800) })).toEqual(['budget: 800 of 1000 daily tokens spent']);
  });

  it('finds a named publisher, and names what the module exports when it is missing', () => {
    const post = async () => undefined;
    expect(publisherNamed(spec(), { post }, 'post')).toBe(post);
    expect(() => publisherNamed(spec(), { post }, 'tweet')).toThrow("poster: ctx.emit names publisher 'tweet', which the agent module does not export (its publishers: post)");
    expect(() => publisherNamed(spec(), undefined, 'post')).toThrow('(its publishers: none)');
  });
});
