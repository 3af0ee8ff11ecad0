import type { Pool } from 'pg';
import { createTestDatabase, createTestPool, TestDatabase } from '../../test/support/database';
import { inTransaction } from '../database/with-client';
import { runInReadSchema, withReadSchemas } from './read-schema';

describe('read schemas (time travel under the pool)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    // One connection: every query below reuses it, so a search path left behind would show.
    pool = withReadSchemas(createTestPool(db.url, 1));
    await pool.query(`CREATE SCHEMA asof_t1`);
    await pool.query(`CREATE TABLE asof_t1.rm_profiles (LIKE public.rm_profiles INCLUDING ALL)`);
    await pool.query(
      `INSERT INTO asof_t1.rm_profiles (uid, name, face, official_type, system_msg_type)
       VALUES ('then', 'as it was', '', -1, 0)`,
    );
    await pool.query(
      `INSERT INTO rm_profiles (uid, name, face, official_type, system_msg_type)
       VALUES ('now', 'as it is', '', -1, 0)`,
    );
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const names = async () =>
    (await pool.query<{ name: string }>('SELECT name FROM rm_profiles')).rows.map((r) => r.name);

  it('reads the schema inside the scope and the live tables outside it, on the same connection', async () => {
    expect(await names()).toEqual(['as it is']);
    expect(await runInReadSchema('asof_t1', names)).toEqual(['as it was']);
    expect(await names()).toEqual(['as it is']);
    // Tables the snapshot does not hold are the live ones
    const keys = await runInReadSchema('asof_t1', () =>
      pool.query<{ n: string }>('SELECT count(*) AS n FROM user_keys'),
    );
    expect(keys.rows[0].n).toBe('0');
  });

  it('scopes clients of connect() and transactions, and resets them on release', async () => {
    const inside = await runInReadSchema('asof_t1', () =>
      inTransaction(pool, async (c) => (await c.query('SHOW search_path')).rows[0] as object),
    );
    expect(inside).toEqual({ search_path: '"asof_t1", public' });
    const after = await pool.query<{ search_path: string }>('SHOW search_path');
    expect(after.rows[0].search_path).toBe('"$user", public');
  });

  it('keeps the scope across awaits and leaves other concurrent work live', async () => {
    const [then, now] = await Promise.all([
      runInReadSchema('asof_t1', async () => {
        await new Promise((r) => setTimeout(r, 5));
        return names();
      }),
      names(),
    ]);
    expect(then).toEqual(['as it was']);
    expect(now).toEqual(['as it is']);
  });

  it('puts the connection back live after a failed statement in the scope', async () => {
    await expect(
      runInReadSchema('asof_t1', () => pool.query('SELECT * FROM no_such_table')),
    ).rejects.toThrow(/no_such_table/);
    expect(await names()).toEqual(['as it is']);
  });
});
