import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrations } from '../../src/database/migrate';
import { TEMPLATE_DB } from './test-env';

/**
 * Starts one embedded PostgreSQL for the whole run and prepares a migrated template database;
 * each test file clones it (test/support/database.ts). Durability is traded for speed here only.
 */
export default async function globalSetup(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'im-test-'));
  const clusterDir = join(root, 'cluster');
  mkdirSync(clusterDir, { recursive: true, mode: 0o755 });
  const pg = await startEmbeddedPostgres({
    clusterDir,
    database: TEMPLATE_DB,
    settings: {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '400',
      shared_buffers: '256MB',
    },
  });
  await runMigrations(pg.url.replace(/\/[^/]+$/, `/${TEMPLATE_DB}`));
  // A template must have no open connections while it is cloned; keep it unmodifiable.
  const admin = new Client({ connectionString: pg.adminUrl });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${TEMPLATE_DB} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`);
  await admin.end();

  process.env.IM_TEST_ENV = JSON.stringify({ adminUrl: pg.adminUrl, root });
  (globalThis as Record<string, unknown>).__IM_TEST_PG__ = pg;
}
