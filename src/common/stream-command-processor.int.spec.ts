import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { MESSAGE_SENT, MessageSentData } from '../messaging/messaging.events';
import { conversationStream, privateConversationId } from '../messaging/domain/conversation';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store';
import { useTestStore } from '../../test/support/test-store';
import { DirectSender, testKeyRing } from '../../test/support/messaging';
import { StreamCommandProcessor } from './stream-command-processor';

describe('stream command processor over the PostgreSQL log', () => {
  let pool: Pool;
  let store: PostgresEventStore;

  useTestStore((t) => ({ pool, store } = t), { connections: 20 });

  const seqnos = async (a: string, b: string) =>
    (await store.readStream(conversationStream(privateConversationId(a, b)))).map(
      (e) => (e.data as MessageSentData).seqno,
    );

  it('gives consecutive seqnos to many concurrent senders on three nodes', async () => {
    // Three processors stand for three API nodes, each with its own cache.
    const nodes = [
      new DirectSender(store, testKeyRing(pool)),
      new DirectSender(store, testKeyRing(pool)),
      new DirectSender(store, testKeyRing(pool)),
    ];
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        nodes[i % 3].send(i % 2 ? 'ann' : 'ben', i % 2 ? 'ben' : 'ann', `m${i}`),
      ),
    );
    const got = results.map((r) => r.result.seqno).sort((x, y) => x - y);
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(await seqnos('ann', 'ben')).toEqual(got);
  });

  it('answers a dev_id retried on another node, after its memory is gone, with the first message', async () => {
    const devId = randomUUID();
    const first = await new DirectSender(store, testKeyRing(pool)).send(
      'cat',
      'dan',
      'once',
      devId,
    );
    // Push the dev_id out of the recent window so only the store can recognise the retry.
    const busy = new DirectSender(store, testKeyRing(pool));
    for (let i = 0; i < 300; i++) await busy.send('dan', 'cat', `filler ${i}`);
    const retry = await new DirectSender(store, testKeyRing(pool)).send(
      'cat',
      'dan',
      'once',
      devId,
    );
    expect(retry.result).toMatchObject({
      msgKey: first.result.msgKey,
      seqno: first.result.seqno,
      duplicate: true,
    });
    const events = await store.readStream(conversationStream(privateConversationId('cat', 'dan')));
    expect(events.filter((e) => e.type === MESSAGE_SENT)).toHaveLength(301);
  });

  it('answers concurrent retries of one dev_id with one message', async () => {
    const devId = randomUUID();
    const nodes = [
      new DirectSender(store, testKeyRing(pool)),
      new DirectSender(store, testKeyRing(pool)),
    ];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => nodes[i % 2].send('eve', 'fay', 'dup', devId)),
    );
    expect(new Set(results.map((r) => r.result.msgKey)).size).toBe(1);
    expect(await seqnos('eve', 'fay')).toEqual([1]);
  });

  it('fails only the command whose events the store refuses, not the rest of its batch', async () => {
    // A decider whose events carry text the database cannot store when the command says so.
    const processor = new StreamCommandProcessor<number, { bad: boolean; n: number }, number>(
      store,
      {
        initialState: () => 0,
        evolve: (count) => count + 1,
        decide: (command, count) => ({
          events: [
            { type: 'Counted', data: { n: command.n, note: command.bad ? 'nul\u0000' : 'ok' } },
          ],
          result: count + 1,
        }),
        eventId: () => randomUUID(),
        resultOfStored: () => -1,
      },
    );
    const meta = { actor: { kind: 'system' as const, id: 'test' }, correlationId: randomUUID() };
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, n) =>
        processor.execute('counter-1', { bad: n === 2, n }, meta),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    const stored = await store.readStream('counter-1');
    expect(stored.map((e) => (e.data as { n: number }).n).sort()).toEqual([0, 1, 3, 4, 5]);
  });

  it('costs the same to append to a long conversation as to a new one (no full reload)', async () => {
    const sender = new DirectSender(store, testKeyRing(pool));
    for (let i = 0; i < 400; i++) await sender.send('gus', 'hal', `m${i}`);
    // A cold node reads only the tail window, not the whole stream.
    const cold = new DirectSender(store, testKeyRing(pool));
    const spy = jest.spyOn(store, 'readStream');
    await cold.send('gus', 'hal', 'after');
    const limits = spy.mock.calls.map((c) => c[1]?.limit ?? Infinity);
    expect(Math.max(...limits)).toBeLessThanOrEqual(256);
    expect(await seqnos('gus', 'hal')).toHaveLength(401);
  });
});
