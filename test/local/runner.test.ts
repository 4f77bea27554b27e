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

  it('starts where --start says: a New York 09:00 schedule fires at 14:00 UTC before the daylight-saving change, 13:00 after', async () => {
    // US clocks sprang forward on Sunday 2026-03-08; Friday the 6th and Monday the 9th are weekdays.
    const newYorkSlot = async (start: string) => {
      const result = await simulate({
        pipeline: reference,
        scenario: 'normal',
        hours: 3,
        start: new Date(start),
        dynamoEndpoint: inject('dynamoEndpoint'),
        tablePrefix: `sim-dst-${randomUUID().slice(0, 8)}`,
      });
      expect(result.start).toBe(Date.parse(start));
      return result.runs.filter((r) => r.agentId === 'community').map((r) => new Date(r.slot).toISOString());
    };
    expect(await newYorkSlot('2026-03-06T12:00:00Z')).toEqual(['2026-03-06T14:00:00.000Z']);
    expect(await newYorkSlot('2026-03-09T12:00:00Z')).toEqual(['2026-03-09T13:00:00.000Z']);
  });
});
