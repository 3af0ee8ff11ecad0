import { Inject } from '@nestjs/common';
import { CommandRunner, Option } from 'nest-commander';

/** Where a command writes: stdout for results, stderr for progress and diagnostics. */
export interface AdminOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/**
 * What an admin command gets from the process that runs it, injected so that tests run commands
 * in process: the environment, the two outputs, the Ctrl-C signal, and the exit status it sets.
 */
export interface AdminContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: AdminOutput;
  readonly stderr: AdminOutput;
  /** Aborted by the first SIGINT/SIGTERM: a command stops at its next safe point. */
  readonly signal: AbortSignal;
  /** Set by the command; see {@link EXIT}. */
  exitCode: number;
}

export const ADMIN_CONTEXT = Symbol('ADMIN_CONTEXT');

/** Exit statuses shared by every admin command. */
export const EXIT = {
  ok: 0,
  /** The command ran and found a difference, or it failed (an unreachable store, a conflict). */
  failed: 1,
  /** Bad usage or configuration: nothing was done. */
  usage: 2,
  /** Stopped by Ctrl-C at a safe point (128 + SIGINT). */
  interrupted: 130,
} as const;

/** Bad usage or configuration found by a command itself: reported, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * An option value commander reports as invalid (`error: option '--x <n>' argument 'y' is
 * invalid. <message>`). Commander recognises it by its code; its own class is not imported
 * because the commander nest-commander bundles is not a dependency of ours.
 */
export class InvalidOptionValueError extends Error {
  readonly code = 'commander.invalidArgument';
}

/** An option's integer (digits only) from `min` to `max`, or InvalidOptionValueError saying so. */
export function parseCount(value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new InvalidOptionValueError(`expected an integer from ${min} to ${max}`);
  }
  return n;
}

/**
 * Base of the admin commands: `execute` returns the exit status. nest-commander gives its
 * subcommands neither the root's exit override nor its output settings, so commander would call
 * `process.exit(1)` on a usage error of a subcommand: both are set here on every command.
 * Every command works on an installation, named by `--database-url` (declared here; a command
 * whose database plays another part declares it again with its own description).
 */
export abstract class AdminCommand extends CommandRunner {
  constructor(@Inject(ADMIN_CONTEXT) protected readonly context: AdminContext) {
    super();
  }

  @Option({
    flags: '--database-url <url>',
    description:
      'the installation’s PostgreSQL (default: DATABASE_URL; without it, the embedded database under DATA_DIR, default ./.data)',
  })
  parseDatabaseUrl(value: string): string {
    return value;
  }

  override setCommand(command: Parameters<CommandRunner['setCommand']>[0]): this {
    command.exitOverride().configureOutput({
      writeOut: (text) => this.context.stdout.write(text),
      writeErr: (text) => this.context.stderr.write(text),
    });
    return super.setCommand(command);
  }

  async run(params: string[], options: Record<string, unknown> = {}): Promise<void> {
    this.context.exitCode = await this.execute(params, options);
  }

  protected abstract execute(params: string[], options: Record<string, unknown>): Promise<number>;
}
