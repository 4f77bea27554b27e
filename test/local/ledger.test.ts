import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageLedger } from '../../local/ledger.ts';
import { MemorySteward } from '../../src/runtime/memory/steward.ts';
import { dynamoForTest } from '../support/dynamo.ts';
import { delivered, freshNamespace, memory, update } from '../support/memory.ts';

const dynamo = await dynamoForTest('ledger');

describe('the memory ledger counts messages, not deliveries', () => {
  it('holds submitted = applied + duplicates + rejected exactly when every message is delivered 1-3 times (property)', async () => {
    const { client, clock } = memory(dynamo);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ kind: fc.constantFrom('put', 'append', 'repeat-id', 'garbage'), deliveries: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 12 }),
        async (messages) => {
          const ledger = new MessageLedger();
          const steward = new MemorySteward({ client, tableName: dynamo.names.memory, clock, onOutcome: (m, r) => ledger.record(m.messageId, r.outcome) });
          const namespace = freshNamespace();
          let lastId: string | undefined;
          const sent = messages.map(({ kind }, i) => {
            if (kind === 'garbage') return delivered('{"not":"an update"}');
            const u = update({ namespace, key: `${kind === 'append' ? 'list' : 'value'}${i % 3}`, op: kind === 'append' ? 'append' : 'put', value: kind === 'append' ? [i] : i } as Parameters<typeof update>[0]);
            // A message re-sent with an idempotency id already applied: a duplicate, not a second effect.
            const withId = kind === 'repeat-id' && lastId ? { ...u, idempotencyId: lastId } : u;
            lastId = withId.idempotencyId;
            return delivered(withId);
          });
          // Deliveries interleave: each message's extra deliveries come after the rest of the batch.
          for (const message of sent) await steward.handle(message);
          for (const [i, message] of sent.entries()) for (let d = 1; d < messages[i]!.deliveries; d++) await steward.handle(message);
          const totals = ledger.totals();
          expect(totals.applied + totals.duplicates + totals.rejected).toBe(sent.length);
          expect(totals.redeliveries).toBe(messages.reduce((sum, m) => sum + m.deliveries - 1, 0));
          expect(totals.rejected).toBe(messages.filter((m) => m.kind === 'garbage').length);
        },
      ),
      { numRuns: 30, seed: 9 },
    );
  });
});
