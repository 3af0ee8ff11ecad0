import 'reflect-metadata';
import pino from 'pino';
import { ConfigError } from './config/app-config';
import { DataDirInUseError } from './database/data-dir-lock';
import { startServer, StartupError } from './server';

const log = pino({ base: { context: 'main' } });

async function main(): Promise<void> {
  const server = await startServer(process.env);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // A second signal, or a drain that hangs, must still end the process.
    setTimeout(() => process.exit(1), 30_000).unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const known =
    err instanceof ConfigError || err instanceof StartupError || err instanceof DataDirInUseError;
  if (known) log.fatal((err as Error).message);
  else log.fatal({ err }, 'failed to start');
  process.exit(1);
});
