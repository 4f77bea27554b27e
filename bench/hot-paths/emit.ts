import { wireBreaker } from '../../src/runtime/breaker/wire-breaker.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import type { OutputGuard } from '../../src/runtime/breaker/output-guard.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { inProcessTransport } from '../../src/runtime/breaker/authority.ts';

export interface EmitFigures {
  readonly outputs: number;
  /** DynamoDB requests per `emit`, the agent's and the breaker function's, averaged over every output (prunes included). */
  readonly storeCallsPerOutput: number;
  /** Requests to the breaker function per `emit` (a Lambda invoke in the cloud; in this process here). */
  readonly breakerRequestsPerOutput: number;
  readonly emitSeconds: number;
  readonly updateSeconds: number;
  readonly ratioVsUpdate: number;
  /** 100 concurrent emits against a limit of `limit`: how many were published (must not exceed the limit). */
  readonly concurrent: { readonly emits: number; readonly limit: number; readonly published: number };
}

/**
 * `ctx.emit`'s accounting (breaker check, both windows, the duplicate claim) for `n` outputs of an agent publishing
 * once a minute, counted in 60-minute windows with a 60-minute duplicate window, a tenth of them repeats: store
 * calls counted at the client, time against `n` bare UpdateItems. (Each update returns its whole item, which holds
 * the window's output ids and the live content claims: the time per output grows with outputs per window.) Then 100 concurrent emits against N = 10 on a fresh breaker, to show the count stays exact.
 */
export async function runEmitBench(client: DynamoDBDocumentClient, countersTable: (label: string) => Promise<string>, n = 300): Promise<EmitFigures> {
  const table = await countersTable('emit');
  const clock = new ManualClock(Date.UTC(2026, 10, 25));
  const { guard, requests } = outputGuard(client, table, clock);
  const spec = agent({ maxOutputs: 1e9, windowMinutes: 60 });
  await guard.emit(spec, 'bench', 'warm', { warm: true });
  const requestsBefore = requests.count;
  let calls = 0;
  const counting = ((next: (args: unknown) => Promise<unknown>) => (args: unknown) => {
    calls++;
    return next(args);
  }) as never;
  client.middlewareStack.add(counting, { step: 'initialize', name: 'benchCallCounter' });
  const emitStart = performance.now();
  for (let i = 0; i < n; i++) {
    await guard.emit(spec, 'bench', `o${i}`, { text: `post ${i % Math.ceil(n * 0.9)}` });
    await clock.advance(60_000);
  }
  const emitSeconds = (performance.now() - emitStart) / 1000;
  client.middlewareStack.remove('benchCallCounter');
  const storeCallsPerOutput = calls / n;
  const breakerRequestsPerOutput = (requests.count - requestsBefore) / n;

  const updateStart = performance.now();
  for (let i = 0; i < n; i++) {
    await client.send(new UpdateCommand({ TableName: table, Key: { pk: 'baseline', sk: 'c' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
  }
  const updateSeconds = (performance.now() - updateStart) / 1000;

  const limit = 10;
  const fresh = outputGuard(client, await countersTable('emit-race'), new ManualClock(Date.UTC(2026, 10, 25))).guard;
  const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => fresh.emit(agent({ maxOutputs: limit, windowMinutes: 10 }), `run-${i}`, `c${i}`, { i })));
  const published = results.filter((r) => r.status === 'fulfilled' && r.value.published).length;
  return { outputs: n, storeCallsPerOutput, breakerRequestsPerOutput, emitSeconds, updateSeconds, ratioVsUpdate: emitSeconds / updateSeconds, concurrent: { emits: 100, limit, published } };
}

function agent(breaker: AgentSpec['breaker']): AgentSpec {
  return { id: 'bench', leaseMinutes: 10, heartbeatIntervalMinutes: 5, upstream: [], breaker, duplicateWindowMinutes: 60 };
}

/** An agent's output guard, asking the breaker function (in this process) as an agent does; its requests counted. */
function outputGuard(client: DynamoDBDocumentClient, tableName: string, clock: ManualClock): { guard: OutputGuard; requests: { count: number } } {
  const wiring = new Wiring({ tables: { coordination: tableName, memory: tableName, counters: tableName }, clock, dynamo: client });
  const spec = { pipeline: 'bench', stage: 'bench', maxOutputs: 1e9, windowMinutes: 60, scheduleNames: [], agents: ['bench'], agentLimits: { bench: { maxOutputs: 1e9, windowMinutes: 60 } } };
  const breaker = wireBreaker(wiring, {
    spec,
    alerts: { publish: async () => undefined },
    schedules: { enabled: async () => [], enable: async () => undefined, disable: async () => undefined },
    reset: 'local',
  });
  const requests = { count: 0 };
  return { guard: wiring.outputs(wiring.remoteBreaker(inProcessTransport(breaker, 'bench', () => void requests.count++))), requests };
}
