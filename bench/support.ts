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
    // PGSS=1 on a database of one's own: its server must preload pg_stat_statements.
    if (process.env.PGSS) await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return { url: process.env.BENCH_DATABASE_URL, pool, close: () => pool.end() };
  }
  // PGSS=1: pg_stat_statements loaded, for printStatementStats.
  const statements = Boolean(process.env.PGSS);
  const root = mkdtempSync(join(tmpdir(), 'im-bench-'));
  chmodSync(root, 0o755);
  const pg = await startEmbeddedPostgres({
    clusterDir: join(root, 'cluster'),
    database: 'bench',
    ...(statements
      ? {
          settings: {
            shared_preload_libraries: 'pg_stat_statements',
            'pg_stat_statements.track': 'all',
            // PGSS_PLANNING=1: planning time too (it costs a little on every statement).
            'pg_stat_statements.track_planning': process.env.PGSS_PLANNING ? 'on' : 'off',
          },
        }
      : {}),
  });
  await runMigrations(pg.url);
  const pool = new Pool({ connectionString: pg.url, max: poolSize });
  // Connections cut by the server's own shutdown at the end are expected.
  pool.on('error', () => undefined);
  if (statements) await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
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

/** With PGSS=1, forgets the statements so far (setup), so the report covers what follows. */
export async function resetStatementStats(pool: Pool): Promise<void> {
  if (process.env.PGSS) await pool.query('SELECT pg_stat_statements_reset()');
}

/** With PGSS=1, the server's statements per message since the last reset, costliest first. */
export async function printStatementStats(pool: Pool, messages: number): Promise<void> {
  if (!process.env.PGSS) return;
  // The server's statements: this database, not the probe's or these.
  const OURS = `dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND query NOT LIKE '%i(k, o, t, seq)%' AND query NOT LIKE '%pg_stat_statements%'
    AND query NOT LIKE '%projection_checkpoints c%'`;
  const { rows } = await pool.query<{
    calls: string;
    total: number;
    mean: number;
    toplevel: boolean;
    query: string;
  }>(
    `SELECT calls, total_exec_time AS total, mean_exec_time AS mean, toplevel,
            regexp_replace(query, '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements WHERE ${OURS}
      ORDER BY total_exec_time DESC LIMIT 20`,
  );
  const all = await pool.query<{ calls: string; total: number }>(
    `SELECT sum(calls) AS calls, sum(total_exec_time) AS total FROM pg_stat_statements
      WHERE toplevel AND ${OURS}`,
  );
  process.stdout.write(
    `\npg_stat_statements over the run: ${(Number(all.rows[0].calls) / messages).toFixed(2)} top-level statements and ` +
      `${(all.rows[0].total / messages).toFixed(3)} ms of execution per message\n` +
      `   calls/msg   ms/msg  mean ms  statement\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${(Number(r.calls) / messages).toFixed(3).padStart(12)} ${(r.total / messages).toFixed(3).padStart(8)} ${r.mean.toFixed(3).padStart(8)}  ${r.toplevel ? '' : '(nested) '}${r.query.slice(0, 110)}\n`,
    );
  }
}

export function report(name: string, count: number, ms: number, unit = 'ops'): number {
  const rate = (count * 1000) / ms;
  process.stdout.write(
    `${name.padEnd(58)} ${String(count).padStart(8)} ${unit} in ${(ms / 1000).toFixed(2).padStart(7)} s = ${Math.round(rate).toLocaleString('en-US').padStart(8)} ${unit}/s\n`,
  );
  return rate;
}
