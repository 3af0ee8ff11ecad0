import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AppConfig } from '../config/app-config';
import { DataDirInUseError, DataDirLock } from '../database/data-dir-lock';
import { startEmbeddedPostgres } from '../database/embedded-postgres';
import { UsageError } from './admin-context';

/** The PostgreSQL database of an installation, open for an admin command. */
export interface InstallationDatabase {
  readonly url: string;
  /** For humans: where it is, without secrets. */
  readonly description: string;
  /** True when a running server uses it too (and may write to it meanwhile). */
  readonly shared: boolean;
  /** Stops what was started for the command (an embedded server) and releases DATA_DIR. */
  close(): Promise<void>;
}

/** `postgres://user:password@host/db` without the password. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]+):[^@/]*@/, '$1:***@');
}

/**
 * The installation's database: `DATABASE_URL` when set; else the embedded PostgreSQL under
 * DATA_DIR, as `npm start` runs it. When no server holds DATA_DIR, the embedded server is started
 * for the command (and DATA_DIR held, so no server starts meanwhile); when one runs, its database
 * is used through the port in `postmaster.pid` and the password file beside the cluster.
 * @throws UsageError when there is no installation to open.
 */
export async function openInstallationDatabase(
  config: AppConfig,
  onLog?: (line: string) => void,
): Promise<InstallationDatabase> {
  if (config.DATABASE_URL) {
    return {
      url: config.DATABASE_URL,
      description: redactDatabaseUrl(config.DATABASE_URL),
      shared: true,
      close: async () => undefined,
    };
  }
  const dataDir = resolve(config.DATA_DIR);
  const clusterDir = join(dataDir, 'postgres');
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    throw new UsageError(
      `no DATABASE_URL, and no embedded installation in ${dataDir} (DATA_DIR): pass ` +
        '--database-url, set DATABASE_URL, or run from the directory `npm start` ran in',
    );
  }
  let lock: DataDirLock;
  try {
    lock = DataDirLock.acquire(dataDir);
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    const url = runningEmbeddedUrl(clusterDir);
    if (url === null) throw new UsageError(err.message);
    return {
      url,
      description: `the embedded database of the server running on ${dataDir}`,
      shared: true,
      close: async () => undefined,
    };
  }
  try {
    const pg = await startEmbeddedPostgres({ clusterDir, database: 'im', onLog });
    return {
      url: pg.url,
      description: `the embedded database in ${dataDir}`,
      shared: false,
      close: async () => {
        try {
          await pg.stop();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * The URL of the embedded PostgreSQL a running server started: the port is line 4 of
 * `postmaster.pid` (PostgreSQL's documented layout), the password is the file beside the cluster
 * (src/database/embedded-postgres.ts). Null when either is missing.
 */
function runningEmbeddedUrl(clusterDir: string): string | null {
  try {
    const port = Number(readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[3]);
    const password = readFileSync(`${clusterDir}.password`, 'utf8').trim();
    if (!Number.isInteger(port) || port <= 0) return null;
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/im`;
  } catch {
    return null;
  }
}
