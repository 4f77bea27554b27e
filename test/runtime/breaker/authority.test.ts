import { describe, expect, it } from 'vitest';
import { callerOf } from '../../../lambdas/breaker/handler.ts';
import { BreakerRequestError, RemoteBreaker } from '../../../src/runtime/breaker/authority.ts';
import { handleBreakerRequest, inProcessTransport } from '../../../src/runtime/breaker/breaker-function.ts';
import { BreakerOpenError, readBreakerState } from '../../../src/runtime/breaker/breaker.ts';
import { OutputGuard } from '../../../src/runtime/breaker/output-guard.ts';
import { OutputWindows } from '../../../src/runtime/breaker/output-window.ts';
import { breakerSpec, freshBreaker } from '../../support/breaker.ts';
import { MINUTE } from '../../support/coordination.ts';

/** The breaker function as agents meet it: each request carried out in the caller's name, nothing more. */
async function agents(options: Parameters<typeof freshBreaker>[0] = {}) {
  const b = await freshBreaker(options);
  const remote = (agentId: string) =>
    new RemoteBreaker({ state: () => readBreakerState(b.client, b.countersTable), send: inProcessTransport(b.breaker, agentId) });
  const guard = (agentId: string) => new OutputGuard({ breaker: remote(agentId), windows: new OutputWindows({ client: b.client, tableName: b.countersTable, clock: b.clock }) });
  return { ...b, remote, guard };
}

describe('the breaker function', () => {
  it('trips in the caller\'s name whatever the request claims', async () => {
    const b = await agents();
    await handleBreakerRequest(b.breaker, 'community', { op: 'trip', reason: 'outputs', detail: 'loop', agentId: 'writer' });
    expect(await b.breaker.state()).toMatchObject({ status: 'OPEN', agentId: 'community', reason: 'outputs' });
  });

  it('refuses what no agent may ask: a reset, a pipeline-window trip, a window of its own choosing, a malformed request', async () => {
    const b = await agents();
    const refused = [
      { op: 'reset' },
      { op: 'trip', reason: 'pipeline-outputs', detail: 'blame the pipeline' },
      { op: 'count', runId: 'r', outputId: 'o', epoch: -1, sequence: 1 },
      { op: 'trip', reason: 'outputs', detail: 'x'.repeat(1_001) },
      { op: 'probe-finished', runId: 'r' },
      'not an object',
    ];
    for (const request of refused) await expect(handleBreakerRequest(b.breaker, 'community', request), JSON.stringify(request)).rejects.toBeInstanceOf(BreakerRequestError);
    expect((await b.breaker.state()).status).toBe('CLOSED');
    // A count takes no window from the request: the pipeline's own limit judges it.
    const counted = await handleBreakerRequest(b.breaker, 'community', { op: 'count', runId: 'r', outputId: 'o', epoch: 0, sequence: 1, windowMinutes: 0 });
    expect(counted).toMatchObject({ op: 'count', admission: { admitted: true } });
  });

  it('never lets one agent end another\'s probe, though the probe\'s run id is readable by all', async () => {
    const b = await agents({ coolDownMinutes: 5 });
    await b.breaker.trip({ reason: 'outputs', agentId: 'community', detail: 'loop' });
    await b.clock.advance(6 * MINUTE);
    await b.breaker.coolDown();
    expect(await b.remote('community').admit('probe-run')).toMatchObject({ admitted: true, probe: true });
    const { probeRunId } = await b.breaker.state();
    expect(probeRunId).toBe('community/probe-run');
    // The writer read the probe's id and tries to close the breaker with it, with and without the prefix.
    await b.remote('writer').probeFinished('probe-run', true);
    await b.remote('writer').probeFinished(probeRunId!, true);
    expect(await b.breaker.state()).toMatchObject({ status: 'HALF_OPEN', probeRunId: 'community/probe-run' });
    // The probe's own agent can.
    await b.remote('community').probeFinished('probe-run', true);
    expect((await b.breaker.state()).status).toBe('CLOSED');
  });

  it('keeps exactly N published of 30 concurrent emits when every agent asks through it', async () => {
    // The function judges by the config's limit for the agent, never by one a request or the agent's spec claims.
    const b = await agents({ pipelineMaxOutputs: 10, agentLimits: { looper: { maxOutputs: 4, windowMinutes: 10 } } });
    const limited = breakerSpec({ id: 'looper', breaker: { maxOutputs: 400, windowMinutes: 10 } });
    const sandboxes = Array.from({ length: 3 }, () => b.guard('looper'));
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => sandboxes[i % 3]!.emit(limited, `run-${i}`, `o${i}`, { i })));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.published)).toHaveLength(4);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof BreakerOpenError)).toBe(true);
    expect(await b.breaker.state()).toMatchObject({ status: 'OPEN', reason: 'outputs', agentId: 'looper' });
  });

  it('knows the caller only from the alias it was invoked through', () => {
    const known = new Set(['writer', 'seo']);
    expect(callerOf('arn:aws:lambda:us-east-1:123456789012:function:nightshift-dev-breaker:writer', known)).toBe('writer');
    for (const arn of ['arn:aws:lambda:us-east-1:123456789012:function:nightshift-dev-breaker', 'arn:aws:lambda:us-east-1:123456789012:function:nightshift-dev-breaker:$LATEST', 'arn:aws:lambda:us-east-1:123456789012:function:nightshift-dev-breaker:planner']) {
      expect(() => callerOf(arn, known), arn).toThrow(BreakerRequestError);
    }
  });
});
