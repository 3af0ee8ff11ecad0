import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Pool } from 'pg';
import { AppConfig, ConfigError, decodeMasterKey, loadConfig } from '../../config/app-config';
import { KeyRing } from '../../crypto/key-ring';
import { runMigrations } from '../../database/migrate';
import type { EventStore } from '../../event-store/event-store.port';
import {
  connectEventStoreDb,
  EventStoreDbRefusedError,
  redactConnectionString,
} from '../../event-store/eventstoredb/connect';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import type { AdminContext } from '../admin-context';
import { UsageError } from '../admin-context';
import { InstallationDatabase, openInstallationDatabase } from '../installation-database';

/**
 * What the log tools of the admin CLI (`stream`, `export`, `import`, `erase-user`) open: the
 * installation's PostgreSQL (read models, data keys; `DATABASE_URL`, or the embedded database
 * under DATA_DIR as `npm start` runs it) and its event store (EventStoreDB with
 * `EVENTSTORE_CONNECTION_STRING`, else the PostgreSQL log in that database).
 */
export interface AdminInstallation {
  readonly config: AppConfig;
  readonly pool: Pool;
  readonly store: EventStore;
  /** For humans, without secrets: the database and the event store. */
  readonly databaseText: string;
  readonly storeText: string;
  /**
   * Null unless asked for, or when no master key is configured. It listens for key destroys
   * (KeyRing.listen) until {@link close}.
   */
  readonly keyRing: KeyRing | null;
  close(): Promise<void>;
}

export interface OpenInstallationOptions {
  /** `--database-url`: overrides DATABASE_URL. */
  readonly databaseUrl?: string;
  /** A key ring to open sealed content with (needs MASTER_KEY, or the embedded secrets). */
  readonly keys?: boolean;
  /** Apply pending migrations first (an import into a fresh database). */
  readonly migrate?: boolean;
}

/** How long to wait for EventStoreDB to answer before giving up. */
const CONNECT_TIMEOUT_MS = 30_000;
/** PostgreSQL refused the URL itself (password, user, database name): configuration. */
const CONFIG_SQLSTATES = new Set(['28P01', '28000', '3D000']);

/** True for errors that mean bad usage or configuration (exit status 2), not a failure. */
export function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError || err instanceof ConfigError) return true;
  if (err instanceof EventStoreDbRefusedError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFIG_SQLSTATES.has(code);
}

/**
 * Opens the installation for one admin command. Close it when done (it stops an embedded
 * PostgreSQL started for the command).
 * @throws UsageError / ConfigError when there is no installation or the configuration is wrong.
 */
export async function openAdminInstallation(
  context: AdminContext,
  options: OpenInstallationOptions = {},
): Promise<AdminInstallation> {
  const config = loadConfig({
    ...context.env,
    ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
  });
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const database: InstallationDatabase = await openInstallationDatabase(config);
    closers.push(() => database.close());
    if (options.migrate) await runMigrations(database.url);
    const pool = new Pool({ connectionString: database.url, max: 4 });
    // Errors of idle connections (the database stopping) surface on the next query instead.
    pool.on('error', () => undefined);
    closers.push(() => pool.end());
    await checkSchema(pool, database.description);

    let store: EventStore;
    let storeText: string;
    const esdb = config.EVENTSTORE_CONNECTION_STRING;
    if (esdb) {
      storeText = `EventStoreDB at ${redactConnectionString(esdb)}`;
      store = await connect(esdb, context.signal);
    } else {
      storeText = `the PostgreSQL event log in ${database.description}`;
      store = new PostgresEventStore(pool);
    }
    closers.push(() => store.close());

    let keyRing: KeyRing | null = null;
    if (options.keys) {
      const masterKey = cliMasterKey(config);
      if (masterKey) {
        const ring = new KeyRing(pool, masterKey);
        // Follows destroys made anywhere (an erasure while a long rebuild runs) as the server's
        // ring does, so a key destroyed meanwhile is not used from the cache; closed before the
        // pool. Resolves once the first attempt ended; while not listening it caches no live key.
        closers.push(() => ring.close());
        await ring.listen();
        keyRing = ring;
      }
    }
    return {
      config,
      pool,
      store,
      databaseText: database.description,
      storeText,
      keyRing,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The master key as the server resolves it, never generated: MASTER_KEY, else (embedded mode)
 * the one kept in DATA_DIR/secrets.json; null when neither exists.
 * @throws ConfigError when the one found does not decode.
 */
export function cliMasterKey(config: AppConfig): Buffer | null {
  if (config.MASTER_KEY) return decoded(config.MASTER_KEY, 'MASTER_KEY');
  if (config.DATABASE_URL) return null;
  const file = join(resolve(config.DATA_DIR), 'secrets.json');
  if (!existsSync(file)) return null;
  const stored = (JSON.parse(readFileSync(file, 'utf8')) as { masterKey?: unknown }).masterKey;
  return typeof stored === 'string' ? decoded(stored, `${file}: masterKey`) : null;
}

function decoded(text: string, where: string): Buffer {
  const key = decodeMasterKey(text);
  if (!key) {
    throw new ConfigError(`invalid configuration:\n  ${where}: must be base64 of exactly 32 bytes`);
  }
  return key;
}

async function checkSchema(pool: Pool, description: string): Promise<void> {
  let found: { log: string | null; keys: string | null };
  try {
    const { rows } = await pool.query<{ log: string | null; keys: string | null }>(
      `SELECT to_regclass('es_events')::text AS log, to_regclass('user_keys')::text AS keys`,
    );
    found = rows[0];
  } catch (err) {
    const message = `cannot read ${description}: ${(err as Error).message}`;
    throw isUsageError(err) ? new UsageError(message) : new Error(message, { cause: err });
  }
  if (found.log === null || found.keys === null) {
    throw new UsageError(
      `${description} is not an installation's database (no es_events or user_keys table): ` +
        'start the server on it once, or run npm run migration:run',
    );
  }
}

async function connect(connectionString: string, interrupt: AbortSignal): Promise<EventStore> {
  const timeout = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
  try {
    return await connectEventStoreDb(connectionString, {
      signal: AbortSignal.any([interrupt, timeout]),
    });
  } catch (err) {
    if (timeout.aborted && !interrupt.aborted) {
      throw new Error(
        `EventStoreDB at ${redactConnectionString(connectionString)} did not answer within ` +
          `${CONNECT_TIMEOUT_MS / 1000} s`,
      );
    }
    throw err;
  }
}
