import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import { createTables } from '../../local/tables.ts';
import { MessageLedger } from '../../local/ledger.ts';
import { BreakerOpenError } from '../../src/runtime/breaker/breaker.ts';
import { wireBreaker } from '../../src/runtime/breaker/wire-breaker.ts';
import { inProcessTransport } from '../../src/runtime/breaker/breaker-function.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { LockHeldError, type TaskLocks } from '../../src/runtime/locks.ts';
import { type StewardMessage, wireSteward } from '../../src/runtime/memory/steward.ts';
import { Wiring } from '../../src/runtime/wiring.ts';
import { messageGroupId } from '../../src/runtime/memory/update.ts';

/**
 * Seeded fault injection against the runtime on DynamoDB Local, through the real SDK: each run draws its faults from
 * the seed, injects them, and checks the invariants the guardrails promise. Nothing is mocked but the clock.
 */
export interface ChaosTally {
  readonly injected: Record<string, number>;
  /** Invariant → violations (0 is a pass). */
  readonly violations: Record<string, number>;
  readonly details: string[];
}

const MINUTE = 60_000;
const INVARIANTS = [
  'one holder per task',
  'fencing tokens strictly increase',
  'a stale holder cannot write',
  'conservation exact (by message)',
  'no effect applied twice',
  'no steward throw for a permanent error',
  'one alert per trip',
  'no output past N',
  'the latest run\'s heartbeat wins',
] as const;

export async function chaos(endpoint: string, seed: number, runs: number, malformedTotal = 1_000): Promise<ChaosTally> {
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'chaos', secretAccessKey: 'chaos' } });
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const injected: Record<string, number> = {};
  const violations: Record<string, number> = Object.fromEntries(INVARIANTS.map((i) => [i, 0]));
  const details: string[] = [];
  const inject = (what: string, n = 1) => void (injected[what] = (injected[what] ?? 0) + n);
  const violate = (invariant: (typeof INVARIANTS)[number], detail: string) => {
    violations[invariant]!++;
    if (details.length < 20) details.push(`${invariant}: ${detail}`);
  };

  for (let run = 0; run < runs; run++) {
    const random = mulberry32(seed * 1_000 + run);
    const pick = (n: number) => Math.floor(random() * n);
    const names = await createTables(raw, `chaos-${seed}-${run}-${randomUUID().slice(0, 6)}`);
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 3, 0));

    // 1. A 100-way race on one task lock; the winner is killed mid-run and comes back late with its stale token.
    const wiring = new Wiring({ tables: names, clock, dynamo: client });
    const locks = wiring.locks();
    const task = `writer@2026-11-25T03:${String(pick(60)).padStart(2, '0')}:00.000Z`;
    inject('100-way lock races');
    const racers = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => locks.acquire(task, `racer-${i}`, 10 * MINUTE)));
    const holders = racers.filter((r) => r.status === 'fulfilled');
    if (holders.length !== 1) violate('one holder per task', `${holders.length} holders of ${task}`);
    if (racers.some((r) => r.status === 'rejected' && !(r.reason instanceof LockHeldError))) violate('one holder per task', 'a racer failed with something else than LockHeldError');
    const first = (holders[0] as PromiseFulfilledResult<Awaited<ReturnType<TaskLocks['acquire']>>>).value;
    inject('agents killed mid-run, resumed late');
    await clock.advance((10 + pick(20)) * MINUTE + 1);
    const taken = await locks.acquire(task, 'retry', 10 * MINUTE);
    if (!(taken.fencingToken > first.fencingToken)) violate('fencing tokens strictly increase', `${first.fencingToken} then ${taken.fencingToken}`);

    // 2. Memory: valid updates (two under the task's lock, one from the killed holder's stale token), malformed ones,
    //    every message delivered 1-3 times, deliveries interleaved, a share of store calls throttled, the steward
    //    killed mid-batch (a message applied but never acknowledged, so delivered again).
    const ledger = new MessageLedger();
    const throttleShare = 0.05 + random() * 0.1;
    // A client of its own: a document client shares its middleware with the client it wraps.
    const flaky = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'chaos', secretAccessKey: 'chaos' } }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    flaky.middlewareStack.add(
      ((next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
        if (random() < throttleShare) {
          inject('store calls throttled');
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException', $fault: 'client' });
        }
        return next(args);
      }) as never,
      { step: 'initialize', name: 'chaosThrottle' },
    );
    const steward = wireSteward(new Wiring({ tables: names, clock, dynamo: flaky }), { onOutcome: (m, r) => ledger.record(m.messageId, r.outcome) });
    const namespace = 'chaos';
    const messages: (StewardMessage & { effect?: string })[] = [];
    let sequence = 10_000_000_000_000_000_000n;
    const message = (body: unknown, key: string, effect?: string) => {
      sequence += 1n;
      messages.push({
        messageId: randomUUID(),
        body: typeof body === 'string' ? body : JSON.stringify(body),
        messageGroupId: messageGroupId(namespace, key),
        sequenceNumber: sequence.toString(),
        sentAt: clock.now(),
        receiveCount: 1,
        ...(effect ? { effect } : {}),
      });
    };
    const update = (key: string, value: unknown, extra: Record<string, unknown> = {}) => ({
      idempotencyId: randomUUID(),
      agentId: 'chaos',
      runId: `run-${run}`,
      namespace,
      key,
      op: 'append',
      value: [value],
      ...extra,
    });
    const validCount = 20 + pick(30);
    for (let i = 0; i < validCount; i++) {
      const key = `k${pick(4)}`;
      message(update(key, `e${run}-${i}`), key, `e${run}-${i}`);
    }
    message(update('fenced', 'new holder', { taskId: task, fencingToken: taken.fencingToken }), 'fenced', 'new holder');
    message(update('fenced', 'stale holder', { taskId: task, fencingToken: first.fencingToken }), 'fenced');
    inject('stale-token writes');
    const malformed = Math.round(malformedTotal / runs) + (run < malformedTotal % runs ? 1 : 0);
    const bad = [
      () => 'not json {',
      () => JSON.stringify({ ...update('bad', 1), op: 'explode' }),
      () => JSON.stringify(update('bad', 1e20)),
      () => JSON.stringify(update('bad', JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`))),
      () => `{"idempotencyId":"x${randomUUID()}","agentId":"chaos","runId":"r","namespace":"chaos","key":"bad","op":"put","value":{"__proto__":{"polluted":true}}}`,
      () => JSON.stringify(update('bad', 'x'.repeat(250 * 1024))),
      () => JSON.stringify({ ...update('bad', 1), namespace: 'Not A Namespace' }),
    ];
    for (let i = 0; i < malformed; i++) message(bad[pick(bad.length)]!(), 'bad');
    inject('malformed, oversize, deep or out-of-range updates', malformed);

    // Deliver: each message 1-3 times; per key in sequence order (a FIFO group), groups interleaved at random.
    const queue = messages.flatMap((m) => Array.from({ length: 1 + pick(3) }, () => m));
    inject('redeliveries', queue.length - messages.length);
    const byGroup = new Map<string, StewardMessage[]>();
    for (const m of queue) byGroup.set(m.messageGroupId, [...(byGroup.get(m.messageGroupId) ?? []), m]);
    // Within a group, redeliveries of a message come right after it (SQS redelivers before moving on).
    for (const [group, list] of byGroup) byGroup.set(group, list.sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1)));
    while ([...byGroup.values()].some((l) => l.length > 0)) {
      const groups = [...byGroup.entries()].filter(([, l]) => l.length > 0);
      const [, list] = groups[pick(groups.length)]!;
      const next = list[0]!;
      try {
        await steward.handle(next);
        if (random() < 0.05) {
          inject('steward killed mid-batch (applied, never acknowledged)');
          continue; // delivered again: stays at the head of its group
        }
        list.shift();
      } catch (error) {
        if ((error as Error).name !== 'ThrottlingException' && !/kept changing/.test((error as Error).message)) {
          violate('no steward throw for a permanent error', `${(error as Error).name}: ${(error as Error).message.slice(0, 120)}`);
          list.shift();
        }
        // A transient error: the message stays at the head of its group and is delivered again.
      }
    }
    const totals = ledger.totals();
    const distinct = new Set(messages.map((m) => m.messageId)).size;
    if (totals.applied + totals.duplicates + totals.rejected !== distinct) {
      violate('conservation exact (by message)', `${distinct} messages, ${totals.applied} applied + ${totals.duplicates} duplicates + ${totals.rejected} rejected`);
    }
    const reader = wiring.reader();
    const applied: string[] = [];
    for (const key of ['k0', 'k1', 'k2', 'k3', 'fenced']) applied.push(...(((await reader.get(namespace, key))?.value as string[] | undefined) ?? []));
    const expected = messages.flatMap((m) => (m.effect ? [m.effect] : []));
    if (new Set(applied).size !== applied.length) violate('no effect applied twice', `${applied.length - new Set(applied).size} repeated`);
    if (applied.length !== expected.length || expected.some((e) => !applied.includes(e))) violate('no effect applied twice', `expected ${expected.length} effects, found ${applied.length}`);
    if (applied.includes('stale holder')) violate('a stale holder cannot write', 'the killed holder\'s late write was applied');

    // 3. A 100-way race on the breaker: 100 emits against N at once, with ±2 minutes of skew between the emitters.
    const alerts: string[] = [];
    const limit = 3 + pick(10);
    const pipelineSpec = { pipeline: 'chaos', stage: 'chaos', maxOutputs: 10_000, windowMinutes: 60, scheduleNames: [], agents: ['community'], agentLimits: { community: { maxOutputs: limit, windowMinutes: 60 } } };
    const breaker = wireBreaker(wiring, {
      spec: pipelineSpec,
      alerts: { publish: async (a) => void alerts.push(a.subject) },
      schedules: { enabled: async () => [], enable: async () => undefined, disable: async () => undefined },
      reset: 'local',
    });
    const spec: AgentSpec = { id: 'community', leaseMinutes: 10, heartbeatIntervalMinutes: 5, upstream: [], breaker: { maxOutputs: limit, windowMinutes: 60 }, duplicateWindowMinutes: 60 };
    const emitters = Array.from({ length: 4 }, () => {
      const skewed = new ManualClock(clock.now() + (pick(241) - 120) * 1_000);
      // Each emitter is an agent sandbox of its own, asking the one breaker function (in this process).
      const sandbox = wiring.withClock(skewed);
      return sandbox.outputs(sandbox.remoteBreaker(inProcessTransport(breaker, 'community')));
    });
    inject('100-way breaker races');
    const emits = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => emitters[i % 4]!.emit(spec, `run-${i}`, `o${i}`, { i })));
    const published = emits.filter((e) => e.status === 'fulfilled' && e.value.published).length;
    if (published > limit) violate('no output past N', `${published} published against N=${limit}`);
    if (emits.some((e) => e.status === 'rejected' && !(e.reason instanceof BreakerOpenError))) violate('no output past N', 'an emit failed with something else than BreakerOpenError');
    if (alerts.length !== 1) violate('one alert per trip', `${alerts.length} alerts for one trip`);

    // 4. Heartbeats from runs whose writers' clocks disagree by up to 2 minutes, arriving in any order.
    inject('heartbeats under ±2 min clock skew');
    const beats = Array.from({ length: 6 }, (_, i) => ({ slot: new Date(Date.UTC(2026, 10, 25, 3 + pick(3))).toISOString(), token: 1 + pick(3), skew: (pick(241) - 120) * 1_000, i }));
    for (const b of beats) {
      const writer = wiring.withClock(new ManualClock(clock.now() + b.skew)).heartbeats();
      await writer.beat('writer', { runId: `beat-${b.i}`, status: 'running', order: { slot: b.slot, fencingToken: b.token } });
    }
    const latest = beats.reduce((best, b) => (b.slot > best.slot || (b.slot === best.slot && b.token >= best.token) ? b : best));
    const stored = await wiring.heartbeats().last('writer');
    const winner = beats.find((b) => `beat-${b.i}` === stored?.runId);
    if (!winner || winner.slot !== latest.slot || winner.token !== latest.token) violate('the latest run\'s heartbeat wins', `stored ${stored?.runId}, latest ${latest.slot}#${latest.token}`);
  }
  return { injected, violations, details };
}

export function chaosTable(seed: number, runs: number, tally: ChaosTally): string {
  const width = Math.max(...[...Object.keys(tally.injected), ...Object.keys(tally.violations)].map((k) => k.length));
  return [
    `chaos: seed ${seed}, ${runs} runs`,
    '',
    'injected',
    ...Object.entries(tally.injected).map(([what, n]) => `  ${what.padEnd(width)}  ${n}`),
    '',
    'invariants',
    ...Object.entries(tally.violations).map(([what, n]) => `  ${n === 0 ? 'PASS' : 'FAIL'}  ${what.padEnd(width)}  ${n} violation(s)`),
    ...(tally.details.length ? ['', ...tally.details.map((d) => `  ${d}`)] : []),
  ].join('\n');
}

/** A small seeded PRNG (mulberry32): the same seed draws the same faults. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
