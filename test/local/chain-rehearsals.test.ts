import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { simulate } from '../../local/runner.ts';
import { formatSummary } from '../../local/summary.ts';
import { causalChain } from '../fixtures/causal-chain.ts';

const chain = causalChain('rehearsed');

const rehearse = (fault: string) =>
  simulate({ pipeline: chain, scenario: 'normal', inject: [fault], hours: 6, dynamoEndpoint: inject('dynamoEndpoint'), tablePrefix: `chain-${randomUUID().slice(0, 8)}` });

/** What a rehearsal must show whatever the fault: every check held, and none was needed yet not exercised. */
async function held(fault: string) {
  const result = await rehearse(fault);
  expect(result.checks.filter((c) => !c.ok), fault).toEqual([]);
  expect(result.passed).toBe(true);
  return result;
}

describe.each(['summarizer', 'collector'])('rehearsals on a chain, each fault on %s', (agent) => {
  const triggered = agent === 'summarizer';

  it('crash: the first run at or after the time dies holding its lock, and its redelivery takes the lease over', async () => {
    const r = await held(`crash:${agent}@02:30`);
    const crashed = r.runs.find((run) => run.agentId === agent && run.status === 'crash')!;
    expect(crashed.at).toBeGreaterThanOrEqual(r.start + 4 * 3_600_000);
    // On a trigger-only agent it is a run an output started, with that output as its input.
    expect(crashed.trigger?.kind).toBe(triggered ? 'output' : undefined);
    expect(r.takeovers).toBeGreaterThanOrEqual(1);
    expect(r.checks.find((c) => c.name.startsWith(`crash ${agent}:`) && c.name.includes('redelivery took the expired lease over'))?.status).toBe('PASS');
    // Counts are true: what the crashed run published before it died counts, and ran what it triggers.
    const next = agent === 'summarizer' ? 'notifier' : 'summarizer';
    expect(r.agents[agent]!.published).toBe(r.published.filter((p) => p.agentId === agent).length);
    expect(r.runs.filter((run) => run.agentId === next && run.trigger?.kind === 'output' && run.status !== 'skipped')).toHaveLength(r.agents[agent]!.published);
  });

  it('fail: the first run at or after the time fails, and the checks after it say what the chain’s shape allows', async () => {
    const r = await held(`fail:${agent}@02:30`);
    const failed = r.runs.find((run) => run.agentId === agent && run.status === 'fail')!;
    expect(failed.trigger?.kind).toBe(triggered ? 'output' : undefined);
    // Its trigger-only downstream is not run by a failed run: that check is not applicable, and says why.
    const downstream = triggered ? 'notifier' : 'summarizer';
    const degradedCheck = r.checks.find((c) => c.name.startsWith(`fail ${agent}: ${downstream} ran degraded`))!;
    expect(degradedCheck).toMatchObject({ status: 'NOT APPLICABLE', ok: true });
    expect(degradedCheck.detail).toContain(`${downstream} runs only on triggers (outputs of ${agent})`);
    expect(formatSummary(r)).toMatch(/not applicable to this pipeline's shape/);
    expect(r.checks.find((c) => c.name === `fail ${agent}: each agent that ran degraded paged (stale upstream)`)?.status).toBe('NOT APPLICABLE');
  });

  it('loop: the breaker trips with exactly one alert, naming the looping agent', async () => {
    const r = await held(`loop:${agent}@02:30`);
    expect(r.alerts).toHaveLength(1);
    expect(r.alerts[0]!.subject).toMatch(new RegExp(`circuit breaker OPEN: ${agent} \\(outputs\\)`));
    const halted = r.runs.find((run) => run.agentId === agent && run.status === 'halted')!;
    expect(halted.trigger?.kind).toBe(triggered ? 'output' : undefined);
    // The runs its outputs started at the moment it tripped were refused, and the check saw them.
    expect(r.checks.find((c) => c.name === 'loop: every run after the trip refused')?.status).toBe('PASS');
  });

  it('silence: nothing invokes it; a trigger-only agent is not paged as silent (no cadence), its events are not run', async () => {
    const r = await held(`silence:${agent}@02:30-05:00`);
    expect(r.runs.filter((run) => run.agentId === agent && run.at >= r.start + 2.5 * 3_600_000 && run.at < r.start + 5 * 3_600_000)).toEqual([]);
    if (triggered) {
      expect(r.checks.find((c) => c.name === `silence ${agent}: paged once, within its longest gap plus grace`)).toMatchObject({ status: 'NOT APPLICABLE' });
      expect(r.events.some((e) => e.agentId === agent && e.detail.includes('not delivered: silenced'))).toBe(true);
    }
  });
});
