import 'reflect-metadata';
import pino from 'pino';
import { ConfigError, PROCESS_ROLES, ProcessRole } from './config/app-config';
import { DataDirInUseError } from './database/data-dir-lock';
import { EventStoreDbRefusedError } from './event-store/eventstoredb/connect';
import { RunningServer, startServer, StartupError } from './server';

const log = pino({ base: { context: 'main' } });

// `node dist/src/main.js [all|api|projector]` (npm start, npm run start:api, start:projector).
const roleArg = process.argv[2] ?? 'all';
if (!PROCESS_ROLES.includes(roleArg as ProcessRole)) {
  log.fatal(`unknown role ${JSON.stringify(roleArg)}: expected one of ${PROCESS_ROLES.join(', ')}`);
  process.exit(2);
}
const role = roleArg as ProcessRole;
/** Aborted by a signal that arrives while the server is still starting. */
const starting = new AbortController();

let server: RunningServer | null = null;
let stopSignal: NodeJS.Signals | null = null;

/** Drains the server, stops the embedded database, exits. A signal during startup waits for it. */
function stop(signal: NodeJS.Signals): void {
  if (server === null && !starting.signal.aborted) {
    // Still starting (say, waiting for EventStoreDB): stop waiting; whatever was started is
    // stopped by startServer before it rejects.
    log.warn({ signal }, 'stopping during startup');
    stopSignal = signal;
    starting.abort(new StartupError(`stopped by ${signal} during startup`));
    return;
  }
  if (stopSignal && server === null) {
    // A second signal while still starting (say, stuck waiting for a lock): give up now. A
    // database left running is stopped by the next start.
    log.warn({ signal }, 'stopping during startup');
    process.exit(1);
  }
  const first = stopSignal === null;
  stopSignal = signal;
  if (!server || !first) return;
  log.info({ signal }, 'stopping');
  // A drain that hangs must still end the process, and not leave the database running.
  const running = server;
  setTimeout(() => {
    log.error('the drain did not finish in 30 s; stopping the database and exiting');
    void running.abort().finally(() => process.exit(1));
  }, 30_000).unref();
  running.close().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    },
  );
}

// Registered before anything starts, so a signal at any moment leads to an orderly stop.
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

startServer(process.env, { role, signal: starting.signal }).then(
  (running) => {
    server = running;
    if (stopSignal) {
      const signal = stopSignal;
      stopSignal = null;
      stop(signal);
    }
  },
  (err: unknown) => {
    if (starting.signal.aborted) process.exit(0);
    const known =
      err instanceof ConfigError ||
      err instanceof StartupError ||
      err instanceof DataDirInUseError ||
      err instanceof EventStoreDbRefusedError;
    if (known) log.fatal((err as Error).message);
    else log.fatal({ err }, 'failed to start');
    process.exit(1);
  },
);
