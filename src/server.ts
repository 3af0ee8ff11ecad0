import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { createApp } from './app.factory';
import { AppConfig, ConfigError, loadConfig, ProcessRole } from './config/app-config';
import type { EventStore } from './event-store/event-store.port';
import { connectEventStoreDb } from './event-store/eventstoredb/connect';
import { resolveSecrets } from './config/secrets';
import { DataDirLock } from './database/data-dir-lock';
import { RunningPostgres, startEmbeddedPostgres } from './database/embedded-postgres';
import { runMigrations } from './database/migrate';

export interface RunningServer {
  readonly app: INestApplication;
  readonly url: string;
  readonly config: AppConfig;
  /** Drains the app, then stops the embedded database and releases DATA_DIR. */
  close(): Promise<void>;
  /** Last resort when a drain hangs: stops the embedded database and releases DATA_DIR now. */
  abort(): Promise<void>;
}

export interface StartOptions {
  /** What this process runs (default `all`). */
  readonly role?: ProcessRole;
  /** Aborts a start that is still waiting (for EventStoreDB to answer, say). */
  readonly signal?: AbortSignal;
}

/** How long in-flight requests get to finish once the server is stopping. */
const DRAIN_GRACE_MS = 10_000;

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/**
 * Starts the whole server from an environment: validated configuration, the embedded PostgreSQL
 * when no DATABASE_URL is given, migrations, then HTTP. Whatever was started is stopped again if a
 * later step fails.
 */
export async function startServer(
  env: NodeJS.ProcessEnv,
  options: StartOptions = {},
): Promise<RunningServer> {
  const config = loadConfig(env);
  const role = options.role ?? 'all';
  if (role === 'projector' && config.PROJECTIONS === 'off') {
    throw new ConfigError(
      'invalid configuration:\n  PROJECTIONS: off leaves a projector process nothing to do ' +
        '(unset it, or run start:api)',
    );
  }
  const log = pino({ level: config.LOG_LEVEL, base: { context: 'bootstrap' } });
  const embeddedMode = !config.DATABASE_URL;
  // What has been started, to stop in reverse order: on a failed start, or by close().
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      await Promise.resolve(fn()).catch(() => undefined);
    }
  };
  try {
    let embedded: RunningPostgres | null = null;
    let releaseLock: (() => void) | null = null;
    if (embeddedMode) {
      const dataDir = resolve(config.DATA_DIR);
      const lock = DataDirLock.acquire(dataDir);
      releaseLock = () => lock.release();
      cleanups.push(releaseLock);
      if (lock.stalePid !== null) {
        log.warn({ dataDir, stalePid: lock.stalePid }, 'previous server did not stop cleanly');
      }
      log.info({ dataDir }, 'starting embedded PostgreSQL');
      embedded = await startEmbeddedPostgres({
        clusterDir: join(dataDir, 'postgres'),
        database: 'im',
        onLog: (line) => log.debug({ postgres: line }),
      });
      cleanups.push(() => embedded!.stop());
    }
    const secrets = resolveSecrets(config, embeddedMode);
    if (secrets.file) {
      log.info(
        { file: secrets.file },
        'JWT_SECRET, ADMIN_API_KEY and/or MASTER_KEY not configured: using generated ones kept in this file',
      );
    }
    const databaseUrl = config.DATABASE_URL ?? embedded!.url;
    const applied = await runMigrations(databaseUrl);
    if (applied.length) log.info({ migrations: applied }, 'migrations applied');

    let eventStore: EventStore | undefined;
    if (config.EVENTSTORE_CONNECTION_STRING) {
      // Waits (with backoff, logging each failure) until the server answers: a process started
      // before EventStoreDB waits for it instead of crashing in a loop.
      eventStore = await connectEventStoreDb(config.EVENTSTORE_CONNECTION_STRING, {
        signal: options.signal,
        logger: log,
      });
      const store = eventStore;
      cleanups.push(() => store.close());
    }

    const app = await createApp({
      config,
      role,
      eventStore,
      databaseUrl,
      jwtSecret: secrets.jwtSecret,
      adminApiKey: secrets.adminApiKey,
      masterKey: secrets.masterKey,
    });
    // While stopping, every response asks its client to reconnect elsewhere, so keep-alive
    // connections end instead of holding the drain open.
    let draining = false;
    app.use((_req: unknown, res: ServerResponse, next: () => void) => {
      if (draining) res.setHeader('Connection', 'close');
      next();
    });
    const http = app.getHttpServer() as Server;
    cleanups.push(async () => {
      draining = true;
      const idle = setInterval(() => http.closeIdleConnections(), 50);
      const grace = setTimeout(() => http.closeAllConnections(), DRAIN_GRACE_MS);
      try {
        await app.close();
      } finally {
        clearInterval(idle);
        clearTimeout(grace);
      }
    });
    try {
      await app.listen(config.PORT, config.HOST);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new StartupError(`PORT ${config.PORT} is already in use on ${config.HOST}`);
      }
      throw err;
    }
    const address = http.address() as AddressInfo;
    const url = `http://127.0.0.1:${address.port}`;
    log.info(
      {
        url,
        role,
        embedded: embeddedMode,
        eventStore: config.EVENTSTORE_CONNECTION_STRING ? 'eventstoredb' : 'postgres',
      },
      'server listening',
    );
    return {
      app,
      url,
      config,
      close: cleanup,
      abort: async () => {
        await embedded?.stop().catch(() => undefined);
        releaseLock?.();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
