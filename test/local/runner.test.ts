import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import reference from '../../nightshift.config';
import { simulate } from '../../src/local/runner';
import type { ScenarioName } from '../../src/local/scenarios';

/** The local runner end to end: DynamoDB Local, local SQS, real handlers and steward, accelerated clock. */
const run = (scenario: ScenarioName, hours = 24) =>
  simulate({
    pipeline: reference,
    scenario,
    hours,
    dynamoEndpoint: inject('dynamoEndpoint'),
    tablePrefix: `sim-${scenario}-${randomUUID().slice(0, 8)}`,
  });

describe('local pipeline run', () => {
  it('runs a calm day: all 12 slots, every update applied, no alert', async () => {
    const result = await run('normal');
    expect(result.totals).toMatchObject({ slots: 12, completed: 12, degraded: 0, halted: 0 });
    expect(result.memory.submitted).toBeGreaterThan(0);
    expect(result.memory).toMatchObject({ applied: result.memory.submitted, rejected: 0, deadLetters: 0, queued: 0 });
    expect(result.alerts).toEqual([]);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.timeline.at).toHaveLength(24 * 12 + 1);
  });

  it('replays the 3am meltdown: one alert, at most N community posts, no duplicate post, breaker open', async () => {
    const result = await run('3am');
    expect(result.alerts).toHaveLength(1);
    expect(result.agents.community!.published).toBeLessThanOrEqual(reference.agents.find((a) => a.id === 'community')!.breaker.maxOutputs);
    expect(result.duplicatePostsPublished).toBe(0);
    expect(result.breaker).toBe('OPEN');
    // The halt stopped the rest of the day: the analyst's 23:00 schedule was disabled.
    expect(result.runs.some((r) => r.slot === Date.UTC(2026, 10, 25, 23))).toBe(false);
    expect(result.passed).toBe(true);
  });

  it('survives a crash: downstream runs degraded, the slot is taken over, nothing lost or doubled', async () => {
    const result = await run('crash');
    expect(result.agents.seo!.degraded).toBe(1);
    expect(result.takeovers).toBe(1);
    expect(result.memory.applied + result.memory.duplicates).toBe(result.memory.submitted);
    expect(result.draftIndexDuplicates).toBe(0);
    expect(result.events.some((e) => e.kind === 'crash' && e.agentId === 'writer')).toBe(true);
    expect(result.passed).toBe(true);
  });
});
