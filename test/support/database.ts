import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { readTestEnv, TEMPLATE_DB } from './test-env';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: readTestEnv().adminUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** A fresh, migrated database cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`));
  const url = readTestEnv().adminUrl.replace(/\/[^/]+$/, `/${name}`);
  return {
    url,
    name,
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

export function createTestPool(url: string, max = 10): Pool {
  const pool = new Pool({ connectionString: url, max });
  // Dropping the database at the end of a file cuts connections that are still closing.
  pool.on('error', () => undefined);
  return pool;
}
