/**
 * Event-store append throughput on the PostgreSQL log (durable settings), or on EventStoreDB:
 *   npm run bench:append
 *   EVENTSTORE_CONNECTION_STRING=esdb://localhost:2113?tls=false npm run bench:append   (a live server)
 *   EVENTSTORE=test-server npm run bench:append   (the gRPC test server: proves the path, its
 *                                                  figures say nothing of EventStoreDB's speed)
 * 1. 16 concurrent writers over 1,000 streams, each append one event at its expected revision.
 * 2. One writer on one stream, sequential appends (commit latency bound).
 * 3. Appending to a stream that already holds 100,000 events versus to new streams.
 */
import { randomUUID } from 'node:crypto';
import { EventData, EventStore } from '../src/event-store/event-store.port';
import { EventStoreDbEventStore } from '../src/event-store/eventstoredb/eventstoredb-event-store';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { startEsdbTestServer } from '../test/support/esdb-test-server';
import { benchDatabase, report } from './support';

const event = (i: number): EventData => ({
  id: randomUUID(),
  type: 'MessageSent',
  data: {
    seqno: i,
    content: '{"content":"a benchmark message of ordinary length"}',
    senderUid: 'u1',
  },
  metadata: { actor: { kind: 'user', id: 'u1' }, correlationId: randomUUID() },
});

/** The store under test, and how to let it go. */
async function openStore(): Promise<{ store: EventStore; label: string; close(): Promise<void> }> {
  const live = process.env.EVENTSTORE_CONNECTION_STRING;
  if (live) {
    const store = EventStoreDbEventStore.fromConnectionString(live);
    return { store, label: `EventStoreDB at ${live}`, close: () => store.close() };
  }
  if (process.env.EVENTSTORE === 'test-server') {
    const server = await startEsdbTestServer();
    const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
    return {
      store,
      label: 'the gRPC test server (correctness only: not a measure of EventStoreDB)',
      close: async () => {
        await store.close();
        await server.close();
      },
    };
  }
  const db = await benchDatabase();
  const store = new PostgresEventStore(db.pool, {
    maxConcurrentBatches: Number(process.env.CONCURRENT_BATCHES ?? 2),
  });
  return {
    store,
    label: 'the PostgreSQL log',
    close: async () => {
      await store.close();
      await db.close();
    },
  };
}

async function main(): Promise<void> {
  const { store, label, close } = await openStore();
  process.stdout.write(`appending to ${label}\n`);
  // Stream names of this run only: a live EventStoreDB keeps the streams of earlier runs.
  const run = Date.now().toString(36);
  try {
    // 1. 16 writers, 1,000 streams; writer w owns streams w, w+16, … so expected revisions are exact.
    const writers = 16;
    const total = Number(process.env.APPENDS ?? 48_000);
    const revisions = new Map<string, number>();
    const streams = Array.from({ length: 1000 }, (_, i) => `bench-${run}${i}`);
    let t0 = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const mine = streams.filter((_, i) => i % writers === w);
        for (let i = 0; i < total / writers; i++) {
          const s = mine[i % mine.length];
          const expected = revisions.get(s) ?? 'no_stream';
          const r = await store.append(s, [event(i)], expected);
          revisions.set(s, r.nextExpectedRevision);
        }
      }),
    );
    report(
      '16 writers x 1,000 streams (expected revision)',
      total,
      performance.now() - t0,
      'appends',
    );

    // 2. One writer, one stream.
    if (process.env.ONLY_CONCURRENT) return;
    const single = Number(process.env.SINGLE_APPENDS ?? 3000);
    let rev: number | 'no_stream' = 'no_stream';
    t0 = performance.now();
    for (let i = 0; i < single; i++) {
      rev = (await store.append(`single-${run}`, [event(i)], rev)).nextExpectedRevision;
    }
    report('1 writer x 1 stream (sequential)', single, performance.now() - t0, 'appends');

    // 3. A stream of 100,000 events versus new streams.
    const long = `long-${run}`;
    let longRev: number | 'no_stream' = 'no_stream';
    for (let i = 0; i < 100; i++) {
      const batch = Array.from({ length: 1000 }, (_, j) => event(i * 1000 + j));
      longRev = (await store.append(long, batch, longRev)).nextExpectedRevision;
    }
    const n = 2000;
    t0 = performance.now();
    for (let i = 0; i < n; i++)
      longRev = (await store.append(long, [event(i)], longRev)).nextExpectedRevision;
    const longRate = report(
      '1 writer, stream already holding 100,000 events',
      n,
      performance.now() - t0,
      'appends',
    );
    t0 = performance.now();
    for (let i = 0; i < n; i++) await store.append(`fresh-${run}${i}`, [event(i)], 'no_stream');
    const freshRate = report(
      '1 writer, a new stream each time',
      n,
      performance.now() - t0,
      'appends',
    );
    process.stdout.write(
      `long-stream / new-stream rate ratio: ${(longRate / freshRate).toFixed(2)}\n`,
    );
  } finally {
    await close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
