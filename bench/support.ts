import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { runMigrations } from '../src/database/migrate';

export interface BenchDb {
  readonly url: string;
  readonly pool: Pool;
  close(): Promise<void>;
}

/**
 * A fresh embedded PostgreSQL with the server's default (durable) settings, as `npm start` runs
 * it: every commit waits for its WAL flush. BENCH_DATABASE_URL uses an existing database instead.
 */
export async function benchDatabase(poolSize = 32): Promise<BenchDb> {
  if (process.env.BENCH_DATABASE_URL) {
    await runMigrations(process.env.BENCH_DATABASE_URL);
    const pool = new Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: poolSize });
    return { url: process.env.BENCH_DATABASE_URL, pool, close: () => pool.end() };
  }
  const root = mkdtempSync(join(tmpdir(), 'im-bench-'));
  chmodSync(root, 0o755);
  const pg = await startEmbeddedPostgres({ clusterDir: join(root, 'cluster'), database: 'bench' });
  await runMigrations(pg.url);
  const pool = new Pool({ connectionString: pg.url, max: poolSize });
  // Connections cut by the server's own shutdown at the end are expected.
  pool.on('error', () => undefined);
  return {
    url: pg.url,
    pool,
    close: async () => {
      await pool.end();
      await pg.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function report(name: string, count: number, ms: number, unit = 'ops'): number {
  const rate = (count * 1000) / ms;
  process.stdout.write(
    `${name.padEnd(58)} ${String(count).padStart(8)} ${unit} in ${(ms / 1000).toFixed(2).padStart(7)} s = ${Math.round(rate).toLocaleString('en-US').padStart(8)} ${unit}/s\n`,
  );
  return rate;
}
