import { randomUUID } from 'node:crypto';
import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../src/config/agent-spec.ts';
import { runAgent } from '../../src/runtime/run-lifecycle.ts';
import { MemoryClient } from '../../src/runtime/memory/client.ts';
import { MemoryReader } from '../../src/runtime/memory/reader.ts';
import { ContextRetriever } from '../../src/runtime/memory/retrieval.ts';
import { MemorySteward, type StewardMessage } from '../../src/runtime/memory/steward.ts';
import { MINUTE, coordination } from '../support/coordination.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { freshNamespace } from '../support/memory.ts';

const dynamo = await dynamoForTest('guard-memory');
const sqsMock = mockClient(SQSClient);
// Files share one process (vitest `isolate: false`): the stubbed client must not outlive this file.
afterAll(() => sqsMock.restore());

/** Captures what agents send; `deliver` hands it to the steward the way SQS FIFO would. */
let queued: StewardMessage[] = [];
let sequence = 1_000n;
beforeEach(() => {
  queued = [];
  sqsMock.reset();
  sqsMock.on(SendMessageBatchCommand).callsFake((input) => ({
    Successful: input.Entries.map((entry: { Id: string; MessageBody: string; MessageGroupId: string }) => {
      sequence += 1n;
      const messageId = randomUUID();
      queued.push({
        messageId,
        body: entry.MessageBody,
        messageGroupId: entry.MessageGroupId,
        sequenceNumber: sequence.toString(),
        sentAt: Date.now(),
        receiveCount: 1,
      });
      return { Id: entry.Id, MessageId: messageId, SequenceNumber: sequence.toString() };
    }),
  }));
});

function setup() {
  const c = coordination(dynamo);
  const reader = new MemoryReader({ client: c.client, tableName: dynamo.names.memory });
  const steward = new MemorySteward({ client: c.client, tableName: dynamo.names.memory, clock: c.clock });
  const client = new MemoryClient({ sqs: new SQSClient({}), queueUrl: 'memory.fifo' });
  const spec: AgentSpec = {
    id: `writer-${randomUUID().slice(0, 8)}`,
    leaseMinutes: 10,
    heartbeatIntervalMinutes: 5,
    upstream: [],
    breaker: { maxOutputs: 5, windowMinutes: 10 },
    duplicateWindowMinutes: 60,
  };
  const deps = { locks: c.locks, heartbeats: c.heartbeats, clock: c.clock, memory: { client, reader, retriever: new ContextRetriever({ client: c.client, tableName: dynamo.names.memory }) } };
  const invocation = { agentId: spec.id, scheduledTime: new Date(c.clock.now()).toISOString(), scheduleArn: 'local', attemptNumber: 0 };
  const deliver = async () => {
    const results = [];
    for (const message of queued.splice(0)) results.push(await steward.handle(message));
    return results;
  };
  return { ...c, reader, deps, spec, invocation, deliver };
}

describe('agent guard with memory', () => {
  it('writes through the steward, stamped with the run and its fencing token', async () => {
    const { deps, spec, invocation, deliver, reader } = setup();
    const namespace = freshNamespace();
    const outcome = await runAgent(deps, spec, invocation, async (ctx) => {
      await ctx.memory.submit([
        { op: 'put', namespace, key: 'draft', value: { title: 'Night' } },
        { op: 'append', namespace, key: 'log', value: ['drafted'] },
      ]);
      return ctx.fencingToken;
    });
    expect(JSON.parse(queued[0]!.body)).toMatchObject({
      agentId: spec.id,
      taskId: outcome.taskId,
      fencingToken: outcome.status === 'completed' ? outcome.result : -1,
      idempotencyId: expect.stringMatching(/:0$/),
    });
    expect((await deliver()).map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect(await reader.get(namespace, 'draft')).toMatchObject({ value: { title: 'Night' }, updatedBy: spec.id });
  });

  it("rejects a paused holder's late write after the new holder of the slot wrote", async () => {
    const { deps, spec, invocation, deliver, reader, clock } = setup();
    const namespace = freshNamespace();
    let started: () => void = () => undefined;
    const oldHolderStarted = new Promise<void>((resolve) => (started = resolve));
    let resumeOldHolder: () => void = () => undefined;
    const oldHolderPaused = new Promise<void>((resolve) => (resumeOldHolder = resolve));
    const oldRun = runAgent(deps, spec, invocation, async (ctx) => {
      started();
      await oldHolderPaused; // frozen while its lease expires and the slot is retried; it never learns it lost
      await ctx.memory.put(namespace, 'article', 'stale');
    });
    await oldHolderStarted;
    clock.jump(11 * MINUTE);
    const retry = await runAgent(deps, spec, { ...invocation, attemptNumber: 1 }, async (ctx) => {
      await ctx.memory.put(namespace, 'article', 'fresh');
    });
    expect(retry.status).toBe('completed');
    resumeOldHolder();
    await oldRun.catch(() => undefined);
    const results = await deliver();
    expect(results.map((r) => (r.outcome === 'rejected' ? r.reason : r.outcome))).toEqual(['applied', 'stale-fencing-token']);
    expect((await reader.get(namespace, 'article'))?.value).toBe('fresh');
  });

  it('refuses to write once the run has lost its lock', async () => {
    const { deps, spec, invocation, clock, locks } = setup();
    const run = runAgent(deps, spec, invocation, async (ctx) => {
      clock.jump(11 * MINUTE);
      await locks.acquire(ctx.taskId, 'intruder', 10 * MINUTE);
      await clock.advance(0);
      await ctx.memory.put(freshNamespace(), 'k', 'too late');
    });
    await expect(run).rejects.toMatchObject({ name: 'LockLostError' });
    expect(queued).toEqual([]);
  });
});
