import { Client } from 'pg';
import { createDataSource } from './data-source';

// Any constant works; it only has to be the same for every node running migrations.
const MIGRATION_LOCK_KEY = 7_263_001;

/**
 * Applies pending migrations. Several nodes may start at once: a session-level advisory lock lets
 * one of them migrate while the others wait, then find nothing left to do.
 * @returns the names of the migrations applied by this call.
 */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const lock = new Client({ connectionString: databaseUrl });
  lock.on('error', () => undefined);
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const dataSource = createDataSource(databaseUrl);
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.end();
  }
}
