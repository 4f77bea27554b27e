import { DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedTtl } from '../../local/simulated-ttl.ts';
import { TABLE_SCHEMAS, type TableRole } from '../../src/contract/tables.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { TOKEN_HORIZON_MS, TaskLocks } from '../../src/runtime/locks.ts';
import { dynamoForTest } from '../support/dynamo.ts';

const HOUR = 3_600_000;

describe('TTL in local mode', () => {
  it('never turns on DynamoDB Local’s own TTL, which deletes by the real clock', async () => {
    const { client, names } = await dynamoForTest('ttl-off');
    for (const role of Object.keys(TABLE_SCHEMAS) as TableRole[]) {
      const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: names[role] }));
      expect(TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
    }
  });

  it('deletes an item only after its TTL plus its lag, by the simulated clock, whatever the real date', async () => {
    const { client, names } = await dynamoForTest('ttl-lazy');
    const documents = DynamoDBDocumentClient.from(client);
    // Far from today in both directions: the sweep must only ever read the clock it is given.
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(Date.UTC(2019, 2, 1), Date.UTC(2031, 7, 15)),
        fc.array(fc.integer({ min: -6 * HOUR, max: 6 * HOUR }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 8 * HOUR }),
        async (start, offsets, elapsed) => {
          const clock = new ManualClock(start);
          const ttl = new SimulatedTtl({ client: documents, tables: names, clock, maxLagMs: 2 * HOUR });
          const run = `${start}-${Math.random()}`;
          const items = offsets.map((offset, i) => ({ pk: `item#${run}`, sk: String(i), ttl: Math.floor((start + offset) / 1000) }));
          for (const Item of items) await documents.send(new PutCommand({ TableName: names.coordination, Item }));
          await clock.advance(elapsed);
          await ttl.sweep();
          for (const item of items) {
            const { Item } = await documents.send(new GetCommand({ TableName: names.coordination, Key: { pk: item.pk, sk: item.sk } }));
            const lag = ttl.lagOf(names.coordination, { pk: item.pk, sk: item.sk }, item.ttl);
            const due = item.ttl * 1000 + lag <= clock.now();
            expect(Item === undefined, `ttl ${new Date(item.ttl * 1000).toISOString()} + lag ${lag} ms at ${new Date(clock.now()).toISOString()}`).toBe(due);
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  it('spreads the lag, so expired items stay readable for a while as they do in AWS', () => {
    const ttl = new SimulatedTtl({ client: {} as DynamoDBDocumentClient, tables: { coordination: 'c', memory: 'm', counters: 'k' }, clock: new ManualClock(0) });
    const lags = Array.from({ length: 200 }, (_, i) => ttl.lagOf('c', { pk: `lock#${i}`, sk: 'lock' }, 1_000));
    expect(Math.max(...lags)).toBeLessThanOrEqual(48 * HOUR);
    expect(lags.filter((lag) => lag > HOUR).length).toBeGreaterThan(150);
    expect(new Set(lags).size).toBeGreaterThan(190);
  });

  it('keeps an item written again between the sweep’s scan and its delete', async () => {
    const { client, names } = await dynamoForTest('ttl-race');
    const documents = DynamoDBDocumentClient.from(client);
    const clock = new ManualClock(Date.UTC(2020, 0, 1));
    const key = { pk: 'lock#raced', sk: 'lock' };
    await documents.send(new PutCommand({ TableName: names.coordination, Item: { ...key, ttl: Math.floor(clock.now() / 1000) - 10 } }));
    const renewed = Math.floor(clock.now() / 1000) + 3_600;
    // The item is renewed just before the sweep's delete reaches it.
    const racing = new Proxy(documents, {
      get(target, property) {
        if (property !== 'send') return Reflect.get(target, property);
        return async (command: { constructor: { name: string } }) => {
          if (command.constructor.name === 'DeleteCommand') await target.send(new PutCommand({ TableName: names.coordination, Item: { ...key, ttl: renewed } }));
          return target.send(command as never);
        };
      },
    });
    const ttl = new SimulatedTtl({ client: racing, tables: names, clock, maxLagMs: 0 });
    expect(await ttl.sweep()).toBe(0);
    const { Item } = await documents.send(new GetCommand({ TableName: names.coordination, Key: key }));
    expect(Item).toMatchObject({ ttl: renewed });
  });

  it('keeps a lock in use for weeks of simulated time, and after it is swept the next token is still higher', async () => {
    const { client, names } = await dynamoForTest('ttl-locks');
    const documents = DynamoDBDocumentClient.from(client);
    const clock = new ManualClock(Date.UTC(2019, 5, 1));
    const ttl = new SimulatedTtl({ client: documents, tables: names, clock, maxLagMs: 6 * HOUR });
    const locks = new TaskLocks({ client: documents, tableName: names.coordination, clock });
    let last = 0;
    for (let day = 0; day < 21; day++) {
      const lease = await locks.acquire('daily', `run-${day}`, HOUR);
      expect(lease.fencingToken).toBeGreaterThan(last);
      last = lease.fencingToken;
      await locks.release(lease);
      await clock.advance(24 * HOUR);
      expect(await ttl.sweep()).toBe(0);
    }
    await clock.advance(TOKEN_HORIZON_MS + 6 * HOUR);
    expect(await ttl.sweep()).toBe(1);
    const after = await locks.acquire('daily', 'after-sweep', HOUR);
    expect(after.fencingToken).toBeGreaterThan(last);
  });
});
