import 'reflect-metadata';
import pino from 'pino';
import { ConfigError } from './config/app-config';
import { DataDirInUseError } from './database/data-dir-lock';
import { RunningServer, startServer, StartupError } from './server';

const log = pino({ base: { context: 'main' } });

let server: RunningServer | null = null;
let stopSignal: NodeJS.Signals | null = null;

/** Drains the server, stops the embedded database, exits. A signal during startup waits for it. */
function stop(signal: NodeJS.Signals): void {
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

startServer(process.env).then(
  (running) => {
    server = running;
    if (stopSignal) {
      const signal = stopSignal;
      stopSignal = null;
      stop(signal);
    }
  },
  (err: unknown) => {
    const known =
      err instanceof ConfigError || err instanceof StartupError || err instanceof DataDirInUseError;
    if (known) log.fatal((err as Error).message);
    else log.fatal({ err }, 'failed to start');
    process.exit(1);
  },
);
