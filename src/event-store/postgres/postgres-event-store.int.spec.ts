import { Pool } from 'pg';
import { describeEventStoreContract } from '../../../test/event-store.contract';
import { createTestDatabase, createTestPool } from '../../../test/support/database';
import { EventData, ExpectedRevision } from '../event-store.port';
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
  return {
    store,
    appendWithDelayedCommit: (s, e, x, d) => appendWithDelayedCommit(pool, s, e, x, d),
    cleanup: async () => {
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
});
