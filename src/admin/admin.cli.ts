import 'reflect-metadata';
import { CommandFactory, CommandRunnerService } from 'nest-commander';
import { AdminContext, EXIT } from './admin-context';
import { AdminModule } from './admin.module';

/**
 * The name commander shows in usage lines. Commander takes it from argv[1], the script's path,
 * which would read `admin.cli`.
 */
const PROGRAM = 'npm run admin --';

/**
 * Runs one admin command (`args` without node and the script) in `context`; resolves with the
 * exit status. Usage errors of commander itself (an unknown command or option, a bad value) are
 * status 2; `--help` is 0.
 */
export async function runAdmin(args: readonly string[], context: AdminContext): Promise<number> {
  const app = await CommandFactory.createWithoutRunning(AdminModule.forContext(context), {
    logger: false,
    // Commander calls process.exit after this handler unless it throws.
    errorHandler: (err) => {
      throw err;
    },
    serviceErrorHandler: (err) => {
      if (isCommanderError(err)) {
        context.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
        return;
      }
      context.stderr.write(`error: ${err.stack ?? err.message}\n`);
      context.exitCode = EXIT.failed;
    },
    outputConfiguration: {
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
    },
  });
  try {
    await app.get(CommandRunnerService).run(['node', PROGRAM, ...args]);
  } finally {
    await app.close();
  }
  return context.exitCode;
}

/** A CommanderError of the commander nest-commander bundles (not ours to import). */
function isCommanderError(err: Error): err is Error & { exitCode: number; code: string } {
  const e = err as Error & { exitCode?: unknown; code?: unknown };
  return (
    typeof e.exitCode === 'number' && typeof e.code === 'string' && e.code.startsWith('commander.')
  );
}

/** `npm run admin -- <command> [options]`: see `npm run admin -- --help`. */
async function main(): Promise<void> {
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt.signal.aborted) {
      // A second Ctrl-C: the user does not want to wait for the safe point.
      process.stderr.write(`\n${signal} again: stopping now\n`);
      process.exit(EXIT.interrupted);
    }
    process.stderr.write(`\n${signal}: stopping at the next safe point (again to stop now)\n`);
    interrupt.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const context: AdminContext = {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: interrupt.signal,
    exitCode: EXIT.ok,
  };
  const status = await runAdmin(process.argv.slice(2), context);
  // Exit once stdout is flushed rather than wait for whatever a library left open.
  process.stdout.write('', () => process.exit(status));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(EXIT.failed);
  });
}
