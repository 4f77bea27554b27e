import { randomUUID } from 'node:crypto';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { NightshiftStack } from '../../lib/nightshift-stack.ts';
import reference from '../../nightshift.config.ts';
import { BREAKER_FUNCTION, EMBEDDER_FUNCTION, WATCH_FUNCTION, agentFunction } from '../../local/pipeline.ts';
import { simulate } from '../../local/runner.ts';
import type { ScenarioName } from '../../local/scenarios.ts';
import type { AwsCall } from '../../src/runtime/aws-calls.ts';
import { DETAIL_SHIFT, type ReferenceRun, referenceRuns } from '../support/reference-runs.ts';
import { checkCalls, resourceMap } from '../support/iam.ts';
import { logicalId, testApp } from '../support/template.ts';

/**
 * The local runner end to end: DynamoDB Local, local SQS, real handlers and steward, accelerated clock. The field
 * report's three stories are the suite's shared reference runs (each run once per `npm test`, with the machine's
 * clock far from the simulated dates: `reference-runs.ts`).
 */
let runs: Readonly<Record<ScenarioName, ReferenceRun>>;
beforeAll(async () => {
  runs = (await referenceRuns(DETAIL_SHIFT)).scenarios;
}, 600_000);

const run = async (scenario: ScenarioName) => runs[scenario].result;

describe('local pipeline run', () => {
  it('runs a calm day: all 12 slots, every update applied, no alert', async () => {
    const result = await run('normal');
    // Twelve scheduled slots, and one triggered run for each plan, draft and review published (writer, seo, community).
    expect(result.totals).toMatchObject({ slots: 12, completed: 12 + result.totals.triggered, degraded: 0, halted: 0, skipped: 0 });
    const published = (id: string) => result.agents[id]!.published + result.agents[id]!.suppressed;
    expect(result.totals.triggered).toBe(result.agents.planner!.published + result.agents.writer!.published + result.agents.seo!.published);
    expect(published('planner')).toBeGreaterThan(0);
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
      return result.runs.filter((r) => r.agentId === 'community' && !r.trigger).map((r) => new Date(r.slot).toISOString());
    };
    expect(await newYorkSlot('2026-03-06T12:00:00Z')).toEqual(['2026-03-06T14:00:00.000Z']);
    expect(await newYorkSlot('2026-03-09T12:00:00Z')).toEqual(['2026-03-09T13:00:00.000Z']);
  });
});

/**
 * IAM by evidence: every AWS call each function made in the three scenarios (DynamoDB and SQS through the SDK; SNS,
 * Scheduler and Bedrock as their local stand-ins declare them) is allowed by the policy the synthesized stack
 * attaches to that function's role, action and resource ARN both, and for memory reads the namespaces' keys.
 */
describe('IAM by evidence', () => {
  const stack = new NightshiftStack(testApp(), 'nightshift-dev', { pipeline: reference });
  const template = Template.fromStack(stack);
  const roles = Object.fromEntries([
    ...stack.agents.map((a) => [agentFunction(a.agentId), logicalId(a.function.role!)] as const),
    ['steward', logicalId(stack.memory.steward.role!)] as const,
    [BREAKER_FUNCTION, logicalId(stack.breakerAuthority.function.role!)] as const,
    [WATCH_FUNCTION, logicalId(stack.watch!.function.role!)] as const,
    [EMBEDDER_FUNCTION, logicalId(stack.memory.embedder!.function.role!)] as const,
  ]);
  const mapFor = (prefix: string) => resourceMap(stack, prefix);

  it.each(['normal', '3am', 'crash'] as const)('allows every call the %s scenario made, to the function that made it', (scenario) => {
    const { calls, prefix } = runs[scenario];
    // Every function made calls, except at 3am the analyst: its only schedule is after the halt, and nothing triggers it.
    expect([...calls.keys()].sort()).toEqual(Object.keys(roles).filter((fn) => scenario !== '3am' || fn !== agentFunction('analyst')).sort());
    expect(checkCalls(template, roles, calls, mapFor(prefix)).denied).toEqual([]);
  });

  it('would catch a missing grant: a call outside the policy is denied', () => {
    const { calls, prefix } = runs.normal;
    const forged = new Map(calls);
    forged.set(agentFunction('writer'), [...(calls.get(agentFunction('writer')) ?? []), { service: 'dynamodb', action: 'GetItem', resource: `table/${prefix}-memory`, leadingKeys: ['mem#community'] }]);
    forged.set('steward', [...(calls.get('steward') ?? []), { service: 'dynamodb', action: 'DeleteItem', resource: `table/${prefix}-memory` }]);
    expect(checkCalls(template, roles, forged, mapFor(prefix)).denied).toEqual([
      expect.stringMatching(/^agent\/writer: dynamodb:GetItem on <Memory.*\.Arn> \(keys mem#community\)$/),
      expect.stringMatching(/^steward: dynamodb:DeleteItem on <Memory.*\.Arn>$/),
    ]);
  });

  it('lists the grants no scenario exercised', () => {
    const all = new Map<string, AwsCall[]>();
    for (const { calls, prefix } of Object.values(runs)) {
      // Tables are named per run: map each run's names onto the normal run's before merging.
      const base = runs.normal.prefix;
      for (const [fn, list] of calls) all.set(fn, [...(all.get(fn) ?? []), ...list.map((c) => ({ ...c, resource: c.resource.replace(prefix, base) }))]);
    }
    const { denied, unexercised } = checkCalls(template, roles, all, mapFor(runs.normal.prefix));
    expect(denied).toEqual([]);
    console.info(Object.entries(unexercised).map(([fn, grants]) => `${fn}: ${grants.join('; ')}`).join('\n'));
  });
});
