import { wireBreaker } from '../../src/runtime/breaker/wire-breaker.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import type { OutputGuard } from '../../src/runtime/breaker/output-guard.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { inProcessTransport } from '../../src/runtime/breaker/breaker-function.ts';

const MINUTE = 60_000;

/** Write units, store calls and time of `ctx.emit` for an agent whose 60-minute window holds `perWindow` outputs. */
export interface WindowFigures {
  readonly perWindow: number;
  readonly windowMinutes: number;
  /** Outputs measured (after a full window of warm-up). */
  readonly outputs: number;
  /** Write capacity units per output (`ReturnConsumedCapacity`), the agent's and the breaker function's writes together. */
  readonly writeUnitsPerOutput: number;
  /** Of which: conditional writes refused (a duplicate's claim), billed one unit each (DynamoDB reports none for them). */
  readonly refusedWritesPerOutput: number;
  readonly storeCallsPerOutput: number;
  readonly breakerRequestsPerOutput: number;
  /** Median time of one emit, and of one bare UpdateItem, in this process. */
  readonly emitMedianMs: number;
}

export interface EmitFigures {
  readonly windows: readonly WindowFigures[];
  readonly bareUpdateMedianMs: number;
  /** The median emit at 60 outputs per window against the median bare UpdateItem. */
  readonly ratioVsUpdate: number;
  /** Concurrent emits against a limit N from several breaker-function instances: how many were published. */
  readonly concurrent: readonly { readonly emits: number; readonly instances: number; readonly limit: number; readonly published: number; readonly alerts: number }[];
}

/**
 * `ctx.emit`'s accounting as an agent meets it (its content claim; the breaker function's count of the agent and of
 * the pipeline), for an agent emitting steadily into a 60-minute window of 60, 300, 1,200 and 5,000 outputs (and a
 * 24-hour window of 5,000), a tenth of them repeats. Each size first fills a whole window, then measures: write units from every write's
 * `ReturnConsumedCapacity`, store calls counted at the client. Then exactness: 100 and 1,000 concurrent emits from
 * several instances against N.
 */
export async function runEmitBench(client: DynamoDBDocumentClient, countersTable: (label: string) => Promise<string>): Promise<EmitFigures> {
  // A warm-up (connections, JIT, DynamoDB Local's JVM) on a table of its own, not counted.
  {
    const clock = new ManualClock(Date.UTC(2026, 10, 25));
    const { guard } = outputGuard(client, await countersTable('emit-warm'), clock, { maxOutputs: 1e6, windowMinutes: 60 }, 1e6);
    for (let i = 0; i < 300; i++) await guard.emit(agent({ maxOutputs: 1e6, windowMinutes: 60 }), 'warm', `warm-${i}`, { i });
  }
  const meter = installMeter(client);
  const windows: WindowFigures[] = [];
  for (const { perWindow, windowMinutes } of [
    { perWindow: 60, windowMinutes: 60 },
    { perWindow: 300, windowMinutes: 60 },
    { perWindow: 1_200, windowMinutes: 60 },
    { perWindow: 5_000, windowMinutes: 60 },
    // A day's window (24-minute buckets): the same cost.
    { perWindow: 5_000, windowMinutes: 24 * 60 },
  ]) {
    const table = await countersTable(`emit-${perWindow}-${windowMinutes}`);
    const clock = new ManualClock(Date.UTC(2026, 10, 25));
    const { guard, requests } = outputGuard(client, table, clock, { maxOutputs: 2 * perWindow, windowMinutes }, 2 * perWindow, undefined, windowMinutes);
    const spec = agent({ maxOutputs: 2 * perWindow, windowMinutes });
    const step = (windowMinutes * MINUTE) / perWindow;
    let i = 0;
    // Every tenth output repeats the one before it: suppressed as a duplicate, and still counted.
    const emit = () => {
      const n = i++;
      return guard.emit(spec, 'bench', `output-${perWindow}-${n}`, { text: `post ${n % 10 === 9 ? n - 1 : n}` });
    };
    for (let w = 0; w < perWindow; w++) {
      await emit();
      await clock.advance(step);
    }
    const outputs = Math.min(perWindow, 300);
    meter.reset();
    const requestsBefore = requests.count;
    const times: number[] = [];
    for (let n = 0; n < outputs; n++) {
      const start = performance.now();
      await emit();
      times.push(performance.now() - start);
      await clock.advance(step);
    }
    windows.push({
      perWindow,
      windowMinutes,
      outputs,
      writeUnitsPerOutput: (meter.writeUnits + meter.refusedWrites) / outputs,
      refusedWritesPerOutput: meter.refusedWrites / outputs,
      storeCallsPerOutput: meter.calls / outputs,
      breakerRequestsPerOutput: (requests.count - requestsBefore) / outputs,
      emitMedianMs: median(times),
    });
  }
  meter.stop();

  const bareTable = await countersTable('emit-bare');
  const bare: number[] = [];
  for (let i = 0; i < 300; i++) {
    const start = performance.now();
    await client.send(new UpdateCommand({ TableName: bareTable, Key: { pk: 'baseline', sk: 'c' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
    bare.push(performance.now() - start);
  }
  const bareUpdateMedianMs = median(bare);

  const concurrent = [];
  for (const { emits, limit, instances } of [
    { emits: 100, limit: 10, instances: 4 },
    { emits: 1_000, limit: 250, instances: 8 },
  ]) {
    const table = await countersTable(`emit-race-${emits}`);
    const clock = new ManualClock(Date.UTC(2026, 10, 25));
    const alerts = { count: 0 };
    // Each instance is a breaker function's sandbox of its own (and an agent's), all on one table.
    const guards = Array.from({ length: instances }, () => outputGuard(client, table, clock, { maxOutputs: limit, windowMinutes: 10 }, 1e9, alerts).guard);
    const spec = agent({ maxOutputs: limit, windowMinutes: 10 });
    const results = await Promise.allSettled(Array.from({ length: emits }, (_, i) => guards[i % instances]!.emit(spec, `run-${i}`, `c${i}`, { i })));
    concurrent.push({ emits, instances, limit, published: results.filter((r) => r.status === 'fulfilled' && r.value.published).length, alerts: alerts.count });
  }
  return { windows, bareUpdateMedianMs, ratioVsUpdate: windows[0]!.emitMedianMs / bareUpdateMedianMs, concurrent };
}

function agent(breaker: AgentSpec['breaker']): AgentSpec {
  return { id: 'bench', leaseMinutes: 10, heartbeatIntervalMinutes: 5, upstream: [], breaker, duplicateWindowMinutes: 60 };
}

/** An agent's output guard, asking the breaker function (in this process) as an agent does; its requests counted. */
function outputGuard(
  client: DynamoDBDocumentClient,
  tableName: string,
  clock: ManualClock,
  limit: AgentSpec['breaker'],
  pipelineMax: number,
  alerts = { count: 0 },
  pipelineWindowMinutes = 60,
): { guard: OutputGuard; requests: { count: number } } {
  const wiring = new Wiring({ tables: { coordination: tableName, memory: tableName, counters: tableName }, clock, dynamo: client });
  const spec = { pipeline: 'bench', stage: 'bench', maxOutputs: pipelineMax, windowMinutes: pipelineWindowMinutes, scheduleNames: [], agents: ['bench'], agentLimits: { bench: limit } };
  const breaker = wireBreaker(wiring, {
    spec,
    alerts: { publish: async () => void alerts.count++ },
    schedules: { enabled: async () => [], enable: async () => undefined, disable: async () => undefined },
    reset: 'local',
  });
  const requests = { count: 0 };
  return { guard: wiring.outputs(wiring.remoteBreaker(inProcessTransport(breaker, 'bench', () => void requests.count++))), requests };
}

const WRITES = new Set(['UpdateItemCommand', 'PutItemCommand', 'DeleteItemCommand', 'UpdateCommand', 'PutCommand', 'DeleteCommand']);

/**
 * Counts every request the client sends, asks every write for its consumed capacity and sums it. A conditional
 * write DynamoDB refuses reports none, though it is billed: those are counted apart.
 */
function installMeter(client: DynamoDBDocumentClient) {
  const meter = { calls: 0, writeUnits: 0, refusedWrites: 0 };
  const middleware = ((next: (args: { input: Record<string, unknown> }) => Promise<{ output: { ConsumedCapacity?: { CapacityUnits?: number } } }>, context: { commandName?: string }) =>
    async (args: { input: Record<string, unknown> }) => {
      meter.calls++;
      const write = WRITES.has(context.commandName ?? '');
      if (write) args.input.ReturnConsumedCapacity = 'TOTAL';
      try {
        const result = await next(args);
        if (write) meter.writeUnits += result.output.ConsumedCapacity?.CapacityUnits ?? 0;
        return result;
      } catch (error) {
        if (write && (error as Error).name === 'ConditionalCheckFailedException') meter.refusedWrites++;
        throw error;
      }
    }) as never;
  client.middlewareStack.add(middleware, { step: 'initialize', name: 'benchMeter' });
  return {
    get calls() {
      return meter.calls;
    },
    get writeUnits() {
      return meter.writeUnits;
    },
    get refusedWrites() {
      return meter.refusedWrites;
    },
    reset() {
      Object.assign(meter, { calls: 0, writeUnits: 0, refusedWrites: 0 });
    },
    stop() {
      client.middlewareStack.remove('benchMeter');
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
