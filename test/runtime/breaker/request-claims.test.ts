import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { handleBreakerRequest } from '../../../src/runtime/breaker/breaker-function.ts';
import { OPEN_ADMISSIONS_MAX, PROBE_CLAIM_LAPSE_MS } from '../../../src/runtime/breaker/breaker.ts';
import { KEYS } from '../../../src/contract/tables.ts';
import { alertsPublished, freshBreaker } from '../../support/breaker.ts';
import { MINUTE } from '../../support/coordination.ts';

/**
 * The breaker function treats what a request says as claims: an agent holding its role may send any request its
 * alias allows, bypassing its own window (which it writes itself). Each attack first, then what must hold.
 */
const count = (runId: string, outputId: string, sequence = 1, epoch = 0) => ({ op: 'count', runId, outputId, epoch, sequence });

describe('the breaker function believes no request field', () => {
  it('counts each caller in a window of its own: an agent counting made-up outputs trips in its own name, never an innocent’s', async () => {
    const b = await freshBreaker({ pipelineMaxOutputs: 8, agentLimits: { writer: { maxOutputs: 5, windowMinutes: 60 }, community: { maxOutputs: 5, windowMinutes: 60 } } });
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await handleBreakerRequest(b.breaker, 'writer', count('r', `fake-${i}`, i + 1)));
    expect(answers.slice(0, 5).every((a) => a.op === 'count' && a.admission.admitted)).toBe(true);
    expect(answers[5]).toMatchObject({ admission: { admitted: false, detail: 'writer produced 6 outputs in the last 60 minutes; the limit is 5 (counted by the breaker function)' } });
    expect(await b.breaker.state()).toMatchObject({ status: 'OPEN', agentId: 'writer', reason: 'outputs' });
    expect(alertsPublished().map((a) => a.Subject)).toEqual([expect.stringContaining('circuit breaker OPEN: writer (outputs)')]);
  });

  it('names the agent with the most outputs in the window when another agent’s output crosses the pipeline’s limit', async () => {
    const b = await freshBreaker({ pipelineMaxOutputs: 5, agentLimits: { writer: { maxOutputs: 5, windowMinutes: 60 }, community: { maxOutputs: 5, windowMinutes: 60 } } });
    for (let i = 0; i < 5; i++) await handleBreakerRequest(b.breaker, 'writer', count('r', `w-${i}`, i + 1));
    const crossing = await handleBreakerRequest(b.breaker, 'community', count('c', 'c-0'));
    expect(crossing).toMatchObject({ admission: { admitted: false } });
    const state = await b.breaker.state();
    expect(state).toMatchObject({ status: 'OPEN', agentId: 'writer', reason: 'pipeline-outputs' });
    expect(state.detail).toBe("the pipeline produced 6 outputs in the last 60 minutes; the limit is 5; most of them are writer's (5), community's output crossed the limit");
  });

  it('lets none of the agent\'s outputs through while OPEN after a trip it asked for, whatever output sequence the request claimed', async () => {
    const b = await freshBreaker({ agentLimits: { writer: { maxOutputs: 1_000, windowMinutes: 60 } } });
    await handleBreakerRequest(b.breaker, 'writer', { op: 'trip', reason: 'outputs', detail: 'loop', outputSequence: Number.MAX_SAFE_INTEGER, epoch: 0 });
    let admitted = 0;
    for (let batch = 0; batch < 3; batch++) {
      await b.clock.advance(30 * MINUTE);
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => handleBreakerRequest(b.breaker, 'writer', count('r', `x-${batch}-${i}-${'p'.repeat(150)}`, batch * 50 + i + 1))));
      admitted += answers.filter((a) => a.op === 'count' && a.admission.admitted).length;
    }
    expect(admitted).toBe(0);
    expect((await b.breaker.state()).tripSequence).toBeUndefined();
    // Every item the counting wrote stayed one write unit, ids of 160 characters included.
    for (const key of [KEYS.counters.breaker, KEYS.counters.verified('writer')]) {
      const { ConsumedCapacity } = await b.client.send(new UpdateCommand({ TableName: b.countersTable, Key: key, UpdateExpression: 'SET probe = :p', ExpressionAttributeValues: { ':p': 1 }, ReturnConsumedCapacity: 'TOTAL' }));
      expect(ConsumedCapacity?.CapacityUnits, JSON.stringify(key)).toBe(1);
    }
  });

  it(`lets at most ${OPEN_ADMISSIONS_MAX} outputs through while OPEN, those the breaker function counted before the tripping one`, async () => {
    const b = await freshBreaker({ agentLimits: { writer: { maxOutputs: 150, windowMinutes: 60 } } });
    // 400 at once from one agent: the 151st counted trips; of the 150 counted before it, those that reach the
    // pipeline's step after the trip are let through, never more than the bound, never one counted after.
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => handleBreakerRequest(b.breaker, 'writer', count('r', `y-${i}`))));
    const admitted = answers.filter((a) => a.op === 'count' && a.admission.admitted).length;
    expect(admitted).toBeLessThanOrEqual(150);
    expect((await b.breaker.state()).status).toBe('OPEN');
    const { Item } = await b.client.send(new GetCommand({ TableName: b.countersTable, Key: KEYS.counters.breaker }));
    expect(Item!.openAdmitted).toBeLessThanOrEqual(OPEN_ADMISSIONS_MAX);
  });

  it('resets to a small, working item however large the windows had grown', async () => {
    const b = await freshBreaker({ agentLimits: { writer: { maxOutputs: 10, windowMinutes: 60 } } });
    // The item as an old flood left it: ~350 KB of ids in a bucket of the current epoch.
    const ids = new Set(Array.from({ length: 1_700 }, (_, i) => `${i}-${'z'.repeat(200)}`));
    await b.client.send(new UpdateCommand({ TableName: b.countersTable, Key: KEYS.counters.breaker, UpdateExpression: 'SET #i = :ids', ExpressionAttributeNames: { '#i': 'i_0_1' }, ExpressionAttributeValues: { ':ids': ids } }));
    await b.breaker.trip({ reason: 'budget', agentId: 'writer', detail: 'spent' });
    const before = await b.breaker.state();
    expect((await b.breaker.reset()).wasOpen).toBe(true);
    const { Item } = await b.client.send(new GetCommand({ TableName: b.countersTable, Key: KEYS.counters.breaker }));
    expect(Object.keys(Item!).sort()).toEqual(['epoch', 'pk', 'resetAt', 'since', 'sk', 'status', 'trips']);
    expect(Item).toMatchObject({ status: 'CLOSED', epoch: before.epoch + 1, trips: before.trips });
    expect(await handleBreakerRequest(b.breaker, 'writer', count('r', 'after-reset', 1, before.epoch + 1))).toMatchObject({ admission: { admitted: true } });
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'trip', reason: 'budget', detail: 'spent again' })).toMatchObject({ tripped: true });
  });

  it('lets only the tripping agent probe after a cool-down, and a probe whose run died lapses for that agent’s next run', async () => {
    const b = await freshBreaker({ coolDownMinutes: 5, agentLimits: { writer: { maxOutputs: 5, windowMinutes: 60 }, community: { maxOutputs: 5, windowMinutes: 60 } } });
    await handleBreakerRequest(b.breaker, 'writer', { op: 'trip', reason: 'outputs', detail: 'loop' });
    await b.clock.advance(6 * MINUTE);
    await b.breaker.coolDown();
    expect(await handleBreakerRequest(b.breaker, 'community', { op: 'claim-probe', runId: 'c-run' })).toMatchObject({
      admission: { admitted: false, reason: 'breaker HALF_OPEN: only writer, whose outputs tripped it, may probe' },
    });
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'claim-probe', runId: 'dies' })).toMatchObject({ admission: { admitted: true, probe: true } });
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'claim-probe', runId: 'next' })).toMatchObject({ admission: { admitted: false } });
    await b.clock.advance(PROBE_CLAIM_LAPSE_MS + MINUTE);
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'claim-probe', runId: 'next' })).toMatchObject({ admission: { admitted: true, probe: true } });
    await handleBreakerRequest(b.breaker, 'community', { op: 'probe-finished', runId: 'next', clean: true });
    expect((await b.breaker.state()).status).toBe('HALF_OPEN');
    await handleBreakerRequest(b.breaker, 'writer', { op: 'probe-finished', runId: 'next', clean: true });
    expect((await b.breaker.state()).status).toBe('CLOSED');
  });

  it('never lets another agent trip a HALF_OPEN breaker, which would take the probe over and could close a loop that never passed it', async () => {
    const b = await freshBreaker({ coolDownMinutes: 5, agentLimits: { writer: { maxOutputs: 5, windowMinutes: 60 }, community: { maxOutputs: 5, windowMinutes: 60 } } });
    await handleBreakerRequest(b.breaker, 'writer', { op: 'trip', reason: 'outputs', detail: 'loop' });
    await b.clock.advance(6 * MINUTE);
    await b.breaker.coolDown();
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'claim-probe', runId: 'probe' })).toMatchObject({ admission: { admitted: true, probe: true } });
    expect(await handleBreakerRequest(b.breaker, 'community', { op: 'trip', reason: 'budget', detail: 'take it over' })).toMatchObject({ tripped: false });
    expect(await b.breaker.state()).toMatchObject({ status: 'HALF_OPEN', agentId: 'writer', probeRunId: 'writer/probe' });
    // The probe's own agent may trip it again (its loop is back).
    expect(await handleBreakerRequest(b.breaker, 'writer', { op: 'trip', reason: 'outputs', detail: 'still looping' })).toMatchObject({ tripped: true });
    expect(await b.breaker.state()).toMatchObject({ status: 'OPEN', agentId: 'writer' });
  });
});
