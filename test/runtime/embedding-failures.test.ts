import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/runtime/breaker/alerts.ts';
import type { BreakerState } from '../../src/runtime/breaker/breaker-state.ts';
import { EntryVectors, embeddingFailures } from '../../src/runtime/memory/entry-vectors.ts';
import { MemorySteward } from '../../src/runtime/memory/steward.ts';
import { LocalEmbedQueue } from '../../src/runtime/memory/entry-changes.ts';
import { Watch, storeSources } from '../../src/runtime/watch/watch.ts';
import { RunHistory } from '../../src/runtime/run-history.ts';
import { MINUTE } from '../support/coordination.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../support/memory.ts';

const dynamo = await dynamoForTest('embedding-failures');

/**
 * A failed embedding never fails the update (the entry is found by its words), but embeddings that keep failing
 * page: retrieval by meaning is degrading, and nothing else would say so under `monitoring: 'watch'`.
 */
describe('embeddings that keep failing', () => {
  it('are counted by the embedder with the last error, page once from the third in an hour, and resolve when they stop', async () => {
    const m = memory(dynamo);
    let failing = true;
    const vectors = new EntryVectors({
      client: m.client,
      tableName: dynamo.names.memory,
      clock: m.clock,
      embedder: {
        model: 'test-model',
        embed: async () => {
          if (failing) throw new Error('ThrottlingException: too many requests');
          return { vectors: [new Float32Array([1, 0]), new Float32Array([0, 1])], tokens: 2 };
        },
      },
    });
    // One attempt per change here (no retries), so each update's embedding fails once.
    const queue = new LocalEmbedQueue(vectors, 1);
    const real = new MemorySteward({ client: m.client, tableName: dynamo.names.memory, clock: m.clock, onWritten: (change) => queue.push(change) });
    const steward = {
      handle: async (message: Parameters<MemorySteward['handle']>[0]) => {
        const result = await real.handle(message);
        await queue.drain();
        return result;
      },
    };
    const namespace = freshNamespace();
    const pages: Alert[] = [];
    const watch = () =>
      new Watch({
        spec: { label: 'embeddings', agents: [] },
        sources: storeSources({
          history: new RunHistory({ client: m.client, tableName: dynamo.names.coordination, clock: m.clock }),
          breaker: async () => ({ status: 'CLOSED', epoch: 0, trips: 0, restoreSchedules: [] }) as BreakerState,
          reader: { rejectedSince: async () => ({}) },
          queues: async () => ({ memoryVisible: 0, memoryDeadLetters: 0, scheduleDeadLetters: 0, undeliveredAlerts: 0 }),
          embeddingFailures: (now) => embeddingFailures(m.client, dynamo.names.memory, now),
        }),
        client: m.client,
        tableName: dynamo.names.coordination,
        clock: m.clock,
        alerts: { publish: async (alert) => void pages.push(alert) },
      });

    for (let i = 0; i < 2; i++) expect((await steward.handle(delivered(update({ namespace, key: `k${i}`, value: `entry ${i}` })))).outcome).toBe('applied');
    expect(await embeddingFailures(m.client, dynamo.names.memory, m.clock.now())).toEqual({ count: 2, lastError: 'Error: ThrottlingException: too many requests' });
    await watch().run();
    expect(pages).toEqual([]); // two are retried by the next write; not yet a page
    await m.clock.advance(MINUTE);
    await steward.handle(delivered(update({ namespace, key: 'k2', value: 'entry 2' })));
    await watch().run();
    expect(pages.map((p) => p.subject)).toEqual(['[embeddings] 3 memory embeddings failed in the last hour']);
    expect(pages[0]!.message).toContain('ThrottlingException');
    failing = false;
    await m.clock.advance(61 * MINUTE);
    await steward.handle(delivered(update({ namespace, key: 'k3', value: 'entry 3' })));
    await watch().run();
    expect(pages.map((p) => p.subject)).toEqual(['[embeddings] 3 memory embeddings failed in the last hour', expect.stringContaining('RESOLVED: 3 memory embeddings failed')]);
  });
});
