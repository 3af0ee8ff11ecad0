import type { Pool } from 'pg';
import {
  PostgresEventStore,
  type PostgresEventStoreOptions,
} from '../../src/event-store/postgres/postgres-event-store';
import { createTestDatabase, createTestPool, type TestDatabase } from './database';

/** A fresh, migrated database, a pool on it, and the PostgreSQL event log over that pool. */
export interface TestStore {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly store: PostgresEventStore;
}

export interface TestStoreOptions extends PostgresEventStoreOptions {
  /** The pool's connections (default 4). */
  readonly connections?: number;
  /** One for the whole file (beforeAll/afterAll) instead of one per test. */
  readonly perFile?: boolean;
}

/**
 * Opens a {@link TestStore} before each test (or once for the file, with `perFile`), hands it to
 * `use` (which keeps what it needs in the file's variables), and closes it after: the store, then
 * the pool, then the database. Hooks a file declares after this one run after it, and their
 * after-hooks also after its close (jest runs hooks in the order declared): a file with cleanup
 * that needs the pool declares that afterEach first.
 */
export function useTestStore(use: (t: TestStore) => void, options: TestStoreOptions = {}): void {
  const { connections = 4, perFile = false, ...storeOptions } = options;
  let opened: TestStore | null = null;
  (perFile ? beforeAll : beforeEach)(async () => {
    const db = await createTestDatabase();
    const pool = createTestPool(db.url, connections);
    opened = { db, pool, store: new PostgresEventStore(pool, storeOptions) };
    use(opened);
  });
  (perFile ? afterAll : afterEach)(async () => {
    if (!opened) return;
    const { db, pool, store } = opened;
    opened = null;
    await store.close();
    await pool.end();
    await db.drop();
  });
}
