import { resolve } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config/app-config';
import { DataDirLock } from './data-dir-lock';
import { startEmbeddedPostgres } from './embedded-postgres';
import { runMigrations } from './migrate';

/** `npm run migration:run`: applies pending migrations to DATABASE_URL or the embedded database. */
async function main(): Promise<void> {
  const log = pino({ base: { context: 'migrate' } });
  const config = loadConfig(process.env);
  if (config.DATABASE_URL) {
    const applied = await runMigrations(config.DATABASE_URL);
    log.info({ applied }, applied.length ? 'migrations applied' : 'nothing to migrate');
    return;
  }
  const dataDir = resolve(config.DATA_DIR);
  const lock = DataDirLock.acquire(dataDir);
  const pg = await startEmbeddedPostgres({ clusterDir: `${dataDir}/postgres`, database: 'im' });
  try {
    const applied = await runMigrations(pg.url);
    log.info({ applied }, applied.length ? 'migrations applied' : 'nothing to migrate');
  } finally {
    await pg.stop();
    lock.release();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    pino().fatal(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
