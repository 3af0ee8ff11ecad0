import { Pool } from 'pg';
import { describeEventStoreContract, ev } from '../../../test/event-store.contract';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import { useTestStore } from '../../../test/support/test-store';
import { waitFor } from '../../../test/support/wait-for';
import {
  DuplicateEventIdError,
  EventData,
  ReadAllOptions,
  RecordedEvent,
  ExpectedRevision,
  WrongExpectedVersionError,
} from '../event-store.port';
import { PostgresEventStore } from './postgres-event-store';

const EXPECTED = { no_stream: -1, any: -2, stream_exists: -3 } as const;

/** Runs the append function in an explicit transaction that sleeps before it commits. */
async function appendWithDelayedCommit(
  pool: Pool,
  streamId: string,
  events: readonly EventData[],
  expected: ExpectedRevision,
  delayMs: number,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ result_code: number }>(
      'SELECT * FROM es_append_batch($1, $2, $3, $4, $5, $6, $7)',
      [
        [streamId],
        [typeof expected === 'number' ? expected : EXPECTED[expected]],
        [events.length],
        events.map((e) => e.id),
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
        events.map((e) => JSON.stringify(e.metadata)),
      ],
    );
    await client.query('SELECT pg_sleep($1)', [delayMs / 1000]);
    await client.query('COMMIT');
    if (rows[0].result_code !== 0) throw new Error(`append failed: ${rows[0].result_code}`);
  } finally {
    client.release();
  }
}

describeEventStoreContract('PostgreSQL log', async () => {
  const db = await createTestDatabase();
  const pool = createTestPool(db.url, 24);
  const store = new PostgresEventStore(pool, { pollIntervalMs: 200 });
  const others: PostgresEventStore[] = [];
  return {
    store,
    appendWithDelayedCommit: (s, e, x, d) => appendWithDelayedCommit(pool, s, e, x, d),
    refusesEventIdsOfOtherStreams: true,
    another: async () => {
      const other = new PostgresEventStore(pool);
      others.push(other);
      return other;
    },
    cleanup: async () => {
      for (const o of others) await o.close();
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
});

describe('PostgreSQL log: the visibility rule', () => {
  it('hides an event behind an older transaction still running, then hands both out in order', async () => {
    const db = await createTestDatabase();
    const pool = createTestPool(db.url, 8);
    const store = new PostgresEventStore(pool);
    try {
      const early = ev('Early');
      const late = ev('Late');
      // Given a transaction that appended first but has not committed
      const slow = await pool.connect();
      await slow.query('BEGIN');
      await slow.query('SELECT * FROM es_append_batch($1, $2, $3, $4, $5, $6, $7)', [
        ['slow-1'],
        [-1],
        [1],
        [early.id],
        [early.type],
        [JSON.stringify(early.data)],
        [JSON.stringify(early.metadata)],
      ]);
      // When a later append commits before it
      await store.append('fast-1', [late], 'no_stream');
      // Then readers see neither yet: handing out the later one would skip the earlier for good
      expect(await store.readAll({ limit: 10 })).toEqual([]);
      expect(await store.headPosition()).toBeNull();
      // And once the earlier commits, both come, the earlier first
      await slow.query('COMMIT');
      slow.release();
      const all = await store.readAll({ limit: 10 });
      expect(all.map((e) => e.id)).toEqual([early.id, late.id]);
    } finally {
      await store.close();
      await pool.end();
      await db.drop();
    }
  });

  it('is not held back by an open transaction that is not an append, here or in another database', async () => {
    const db = await createTestDatabase();
    const other = await createTestDatabase();
    const pool = createTestPool(db.url, 8);
    const otherPool = createTestPool(other.url, 2);
    const store = new PostgresEventStore(pool);
    const idle = await pool.connect();
    const elsewhere = await otherPool.connect();
    try {
      // Given transactions that wrote and stay open: one in this database, one in another
      await idle.query('BEGIN');
      await idle.query('CREATE TEMP TABLE holding (x int)');
      await idle.query('SELECT pg_current_xact_id()');
      await elsewhere.query('BEGIN');
      await elsewhere.query('SELECT pg_current_xact_id()');
      // When an append commits after they started
      const e = ev('Visible');
      await store.append('seen-1', [e], 'no_stream');
      // Then readers get it at once
      expect((await store.readAll({ limit: 10 })).map((x) => x.id)).toEqual([e.id]);
      expect(await store.headPosition()).not.toBeNull();
    } finally {
      await idle.query('ROLLBACK');
      idle.release();
      await elsewhere.query('ROLLBACK');
      elsewhere.release();
      await store.close();
      await pool.end();
      await otherPool.end();
      await db.drop();
      await other.drop();
    }
  });

  it('refuses an append in a transaction that already wrote', async () => {
    const db = await createTestDatabase();
    const pool = createTestPool(db.url, 2);
    const client = await pool.connect();
    try {
      const e = ev('Late');
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      await expect(
        client.query('SELECT * FROM es_append_batch($1, $2, $3, $4, $5, $6, $7)', [
          ['x-1'],
          [-1],
          [1],
          [e.id],
          [e.type],
          [JSON.stringify(e.data)],
          [JSON.stringify(e.metadata)],
        ]),
      ).rejects.toThrow(/first write of its transaction/);
      await client.query('ROLLBACK');
    } finally {
      client.release();
      await pool.end();
      await db.drop();
    }
  });
});

/** Counts its reads of the log (subscriptions read through readAll). */
class CountingStore extends PostgresEventStore {
  reads = 0;
  override readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    this.reads++;
    return super.readAll(options);
  }
}

describe('PostgreSQL log: subscriptions of one store share their reads', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: CountingStore;
  let controller: AbortController;
  beforeEach(async () => {
    controller = new AbortController();
    db = await createTestDatabase();
    pool = createTestPool(db.url, 24);
    store = new CountingStore(pool, { pollIntervalMs: 200 });
  });
  const following: Promise<void>[] = [];
  afterEach(async () => {
    controller.abort();
    await Promise.allSettled(following.splice(0));
    await store.close();
    await pool.end();
    await db.drop();
  });

  /** A subscriber from the start: the ids it got, in order, and how often it got each. */
  function follow(batchSize: number) {
    const got = {
      ids: [] as string[],
      byStream: new Map<string, number[]>(),
      sizes: [] as number[],
    };
    const done = (async () => {
      for await (const batch of store.subscribeAll({ signal: controller.signal, batchSize })) {
        got.sizes.push(batch.length);
        for (const e of batch) {
          got.ids.push(e.id);
          got.byStream.set(e.streamId, [...(got.byStream.get(e.streamId) ?? []), e.revision]);
        }
      }
    })();
    following.push(done);
    return { got, done };
  }

  it('reads the log once for two subscribers woken by one append', async () => {
    // Given two subscribers at the head (different batch sizes, as the runner and the follower)
    const a = follow(2000);
    const b = follow(500);
    await store.append('one-1', [ev('First')], 'no_stream');
    await waitFor(() => a.got.ids.length === 1 && b.got.ids.length === 1, 'both at the head');
    for (let i = 0; i < 5; i++) {
      // When one append wakes them
      const before = store.reads;
      const e = ev('Next');
      await store.append('one-1', [e], i);
      await waitFor(
        () => a.got.ids.at(-1) === e.id && b.got.ids.at(-1) === e.id,
        'both to get the event',
      );
      // Then one read served both
      expect(store.reads - before).toBe(1);
    }
  });

  it('gives a subscriber whole batches of its own size when the read it joins was cut by a smaller limit', async () => {
    // Given a subscriber of batches of 3 that wakes first, and one of batches of 10, at the head
    const small = follow(3);
    const large = follow(10);
    await store.append('many-1', [ev('First')], 'no_stream');
    await waitFor(
      () => small.got.ids.length === 1 && large.got.ids.length === 1,
      'both at the head',
    );
    // When one append brings 20 events
    await store.append(
      'many-1',
      Array.from({ length: 20 }, () => ev('Many')),
      0,
    );
    await waitFor(
      () => small.got.ids.length === 21 && large.got.ids.length === 21,
      'both to get the 20 events',
    );
    // Then the large one read ahead by batches of 10, not of the small one's 3
    expect(small.got.sizes.slice(1)).toEqual([3, 3, 3, 3, 3, 3, 2]);
    expect(large.got.sizes.slice(1)).toEqual([10, 10]);
  });

  it('delivers every event exactly once, in order, to subscribers of different batch sizes following 16 concurrent writers', async () => {
    // Given subscribers whose reads are shared though their limits differ (7 and 97)
    const small = follow(7);
    const large = follow(97);
    const streams = Array.from({ length: 40 }, (_, i) => `load-${i}`);
    const written: string[] = [];
    // When 16 writers append 40 times each, one to five events at a time
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const events = Array.from({ length: 1 + ((w + i) % 5) }, () => ev('Load', { w, i }));
          await store.append(streams[(w * 7 + i) % streams.length], events, 'any');
          written.push(...events.map((e) => e.id));
        }
      }),
    );
    await waitFor(
      () => small.got.ids.length >= written.length && large.got.ids.length >= written.length,
      'both subscribers to get every event',
      60_000,
    );
    // Then each got the same events, each once, every stream in revision order
    for (const s of [small, large]) {
      expect(s.got.ids).toHaveLength(written.length);
      expect(new Set(s.got.ids)).toEqual(new Set(written));
      for (const [, revs] of s.got.byStream) expect(revs).toEqual(revs.map((_, i) => i));
    }
    expect(small.got.ids).toEqual(large.got.ids);
  });
});

describe('PostgreSQL log: the import path', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  useTestStore((t) => ({ pool, store } = t));
  const at = (iso: string) => ({ ...ev('Imported'), recordedAt: new Date(iso) });

  it("keeps each imported event's original time, even going backwards, in commit order", async () => {
    // Given events of an export, the second recorded before the first (a skewed source clock)
    const first = at('2026-12-05T09:30:00.123Z');
    const second = at('2026-12-05T09:29:59.001Z');
    const third = at('2025-01-01T00:00:00.000Z');
    // When the import appends them, in two transactions
    await store.appendImported('imp-1', [first, second], 'no_stream');
    await store.appendImported('imp-2', [third], 'no_stream');
    // Then each keeps its time, and positions follow the order of the appends
    const all = await store.readAll({ limit: 10 });
    expect(all.map((e) => [e.id, e.createdAt.toISOString()])).toEqual([
      [first.id, '2026-12-05T09:30:00.123Z'],
      [second.id, '2026-12-05T09:29:59.001Z'],
      [third.id, '2025-01-01T00:00:00.000Z'],
    ]);
    expect(await store.readStream('imp-1')).toEqual(all.slice(0, 2));
  });

  it('leaves a normal append at the database time, whatever recordedAt it carries', async () => {
    const before = (await pool.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0].t;
    // Given an append that is not an import, carrying a time from another store
    const e = at('2001-01-01T00:00:00.000Z');
    // When it is appended the normal way
    await store.append('live-1', [e], 'no_stream');
    // Then its time is the database's
    const [read] = await store.readStream('live-1');
    expect(read.createdAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
  });

  it('gives an imported event without a time the database time', async () => {
    const before = (await pool.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0].t;
    const e = ev('Untimed');
    await store.appendImported('imp-1', [e], 'no_stream');
    const [read] = await store.readStream('imp-1');
    expect(read.createdAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
  });

  it('refuses an imported append at the wrong revision or with a used id, writing nothing', async () => {
    const e = at('2026-12-05T09:30:00.123Z');
    await store.appendImported('imp-1', [e], 'no_stream');
    await expect(
      store.appendImported('imp-1', [at('2026-12-05T09:31:00.000Z')], 'no_stream'),
    ).rejects.toBeInstanceOf(WrongExpectedVersionError);
    await expect(
      store.appendImported('imp-2', [{ ...e, recordedAt: new Date(0) }], 'no_stream'),
    ).rejects.toBeInstanceOf(DuplicateEventIdError);
    // A retried append (same ids, same stream) writes nothing, its time included
    expect(
      await store.appendImported('imp-1', [{ ...e, recordedAt: new Date(0) }], 'no_stream'),
    ).toMatchObject({ alreadyWritten: true, nextExpectedRevision: 0 });
    // The event whose id was offered again keeps its own time
    const all = await store.readAll({ limit: 10 });
    expect(all.map((x) => [x.id, x.createdAt.toISOString()])).toEqual([
      [e.id, '2026-12-05T09:30:00.123Z'],
    ]);
    // And the import path checks its input as append does
    await expect(store.appendImported('$all', [at('2026-01-01T00:00:00Z')], 'any')).rejects.toThrow(
      TypeError,
    );
  });

  it("imports several streams' runs in one transaction, in their order, with their times", async () => {
    // Given runs of an export that interleaves streams, one stream met twice
    const a0 = at('2026-12-05T09:30:00.000Z');
    const b0 = at('2026-12-05T09:29:00.000Z');
    const a1 = at('2026-12-05T09:31:00.000Z');
    const a2 = at('2026-12-05T09:32:00.000Z');
    // When they are imported at once
    const page = [
      { streamId: 'imp-a', events: [a0], expected: 'no_stream' },
      { streamId: 'imp-b', events: [b0], expected: 'no_stream' },
      { streamId: 'imp-a', events: [a1, a2], expected: 0 },
    ] as const;
    const written = await store.appendImportedAll(page);
    // Then all are written in that order, in one transaction, each with its time
    expect(written).toBe(true);
    const all = await store.readAll({ limit: 10 });
    expect(all.map((e) => [e.id, e.streamId, e.revision, e.createdAt.toISOString()])).toEqual([
      [a0.id, 'imp-a', 0, '2026-12-05T09:30:00.000Z'],
      [b0.id, 'imp-b', 0, '2026-12-05T09:29:00.000Z'],
      [a1.id, 'imp-a', 1, '2026-12-05T09:31:00.000Z'],
      [a2.id, 'imp-a', 2, '2026-12-05T09:32:00.000Z'],
    ]);
    expect(new Set(all.map((e) => e.position.commit)).size).toBe(1);
    // And the same page again (the retry of a commit whose answer was lost) is found written
    expect(await store.appendImportedAll(page)).toBe(true);
    expect(await store.readAll({ limit: 10 })).toEqual(all);
  });

  it('imports nothing of runs of which one cannot be written, and says so', async () => {
    const used = at('2026-12-05T09:30:00.000Z');
    await store.appendImported('imp-a', [used], 'no_stream');
    const fresh = at('2026-12-05T09:31:00.000Z');
    // A wrong expected revision among them, then an id another stream holds
    for (const bad of [
      { streamId: 'imp-a', events: [at('2026-12-05T09:32:00.000Z')], expected: 'no_stream' },
      { streamId: 'imp-c', events: [{ ...used, recordedAt: new Date(0) }], expected: 'no_stream' },
    ] as const) {
      expect(
        await store.appendImportedAll([
          { streamId: 'imp-b', events: [fresh], expected: 'no_stream' },
          bad,
        ]),
      ).toBe(false);
    }
    // Then only the event written before is there, with its own time
    const all = await store.readAll({ limit: 10 });
    expect(all.map((x) => [x.id, x.createdAt.toISOString()])).toEqual([
      [used.id, '2026-12-05T09:30:00.000Z'],
    ]);
  });
});
