import { Pool } from 'pg';
import { allProjectors } from '../../../projections';
import { DomainError } from '../../common/errors';
import { cliMetadata, recordAdminOperation } from '../admin-actions';
import { AdminContext, EXIT, InvalidOptionValueError, UsageError } from '../admin-context';
import { formatCount, formatDuration, ProgressLine } from '../progress-line';
import {
  AdminInstallation,
  isUsageError,
  openAdminInstallation,
} from '../streams/admin-installation';
import type { ReplayDeps } from './replay-common';
import { ReplayInterruptedError, ReplayProgress } from './replay-progress';

/** Connections of a replay command: a lane per projector, the reader, the locks. */
const POOL_SIZE = 12;

/** Options every replay command takes. */
export interface ReplayCliOptions {
  readonly databaseUrl?: string;
  readonly json?: boolean;
}

/** What a replay command's work gets. */
export interface ReplayCliContext {
  readonly installation: AdminInstallation;
  /** With `keys`: every projector over a key ring of the installation's master key. */
  readonly deps: ReplayDeps;
  readonly signal: AbortSignal;
  /** Draws the progress line on stderr (events/s, ETA). */
  readonly onProgress: (progress: ReplayProgress) => void;
  /** Marks the operation as under way: from then on it is recorded in the audit log. */
  readonly began: () => void;
}

export interface ReplayCliSpec<R> {
  /** As recorded in the audit log; null for a read-only command (not recorded). */
  readonly operation: string | null;
  readonly args: Record<string, unknown>;
  /** Needs the master key (to open message content while building read models). */
  readonly keys: boolean;
  /** Shown before the progress line. */
  readonly label: string;
  readonly run: (c: ReplayCliContext) => Promise<R>;
  /** EXIT.ok, or EXIT.failed when the result is a finding (verify: they differ). */
  readonly exitCode?: (result: R) => number;
  readonly outcome?: (result: R) => string;
  /** The result as text on stdout (without --json). */
  readonly render: (result: R, say: (line: string) => void) => void;
}

/** What `--json` prints on stdout: one JSON document. */
export interface ReplayCliResult<R> {
  readonly status: 'completed' | 'differs' | 'failed' | 'usage' | 'interrupted';
  readonly exitCode: number;
  readonly result?: R;
  readonly error?: { readonly code: number | null; readonly message: string };
}

/**
 * Runs one replay command of the admin CLI: opens the installation (and a key ring when the
 * command builds read models), draws the progress line, prints the result (text or --json),
 * records the operation (AdminOperationRecorded) and returns the exit status: 0 done, 1 a
 * finding or a failure, 2 bad usage (an unknown projection, a bad time), 130 interrupted.
 */
export async function runReplayCommand<R>(
  context: AdminContext,
  options: ReplayCliOptions,
  spec: ReplayCliSpec<R>,
): Promise<number> {
  const json = options.json === true;
  const line = new ProgressLine(context.stderr);
  let installation: AdminInstallation | null = null;
  let began = false;
  let closePool: () => Promise<void> = async () => undefined;
  let outcome: ReplayCliResult<R>;
  try {
    installation = await openAdminInstallation(context, {
      databaseUrl: options.databaseUrl,
      keys: spec.keys,
    });
    if (spec.keys && !installation.keyRing) {
      throw new UsageError(
        'MASTER_KEY is needed to open message content while building read models: set it as ' +
          'the server has it (in embedded mode it is read from DATA_DIR/secrets.json)',
      );
    }
    // A pool of its own: a shadow build applies each projector on a connection of its own.
    const pool = new Pool({ ...installation.pool.options, max: POOL_SIZE });
    pool.on('error', () => undefined);
    closePool = () => pool.end();
    const deps: ReplayDeps = {
      pool,
      store: installation.store,
      projectors: allProjectors(installation.keyRing ?? (null as never)),
    };
    const result = await spec.run({
      installation,
      deps,
      signal: context.signal,
      onProgress: (p) => line.update(`${spec.label}: ${describeProgress(p)}`),
      began: () => (began = true),
    });
    line.finish();
    const exitCode = spec.exitCode?.(result) ?? EXIT.ok;
    outcome = { status: exitCode === EXIT.ok ? 'completed' : 'differs', exitCode, result };
  } catch (err) {
    line.finish();
    outcome = failure(err, context.signal);
  }
  if (began && spec.operation && installation) {
    try {
      await recordAdminOperation(installation.store, cliMetadata(context.env), {
        operation: spec.operation,
        args: spec.args,
        outcome:
          outcome.result !== undefined && spec.outcome
            ? spec.outcome(outcome.result)
            : outcome.status,
        ...(outcome.error ? { detail: { error: outcome.error.message } } : {}),
      });
    } catch (err) {
      context.stderr.write(`warning: could not record the operation: ${(err as Error).message}\n`);
    }
  }
  await closePool().catch(() => undefined);
  await installation?.close();
  print(context, json, outcome, spec.render);
  return outcome.exitCode;
}

function failure<R>(err: unknown, signal: AbortSignal): ReplayCliResult<R> {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplayInterruptedError || signal.aborted) {
    return { status: 'interrupted', exitCode: EXIT.interrupted, error: { code: null, message } };
  }
  if (err instanceof DomainError) {
    // Bad input (an unknown projection, a time in the future) is usage; a conflict is a failure.
    const usage = err.status === 400 || err.status === 404;
    return {
      status: usage ? 'usage' : 'failed',
      exitCode: usage ? EXIT.usage : EXIT.failed,
      error: { code: err.code, message },
    };
  }
  if (isUsageError(err)) {
    return { status: 'usage', exitCode: EXIT.usage, error: { code: null, message } };
  }
  return { status: 'failed', exitCode: EXIT.failed, error: { code: null, message } };
}

function print<R>(
  context: AdminContext,
  json: boolean,
  outcome: ReplayCliResult<R>,
  render: (result: R, say: (line: string) => void) => void,
): void {
  if (json) {
    context.stdout.write(`${JSON.stringify(outcome, jsonValue, 2)}\n`);
  } else if (outcome.result !== undefined) {
    render(outcome.result, (text) => context.stdout.write(`${text}\n`));
  }
  if (outcome.error) {
    context.stderr.write(
      `${outcome.status === 'interrupted' ? '' : 'error: '}${outcome.error.message}\n`,
    );
  }
}

export function describeProgress(p: ReplayProgress): string {
  const total = p.eventsRemaining === null ? null : p.eventsApplied + p.eventsRemaining;
  const share =
    total !== null && total > 0 ? ` (${((100 * p.eventsApplied) / total).toFixed(1)} %)` : '';
  const eta = p.etaSeconds === null ? '' : `, ETA ${formatDuration(p.etaSeconds)}`;
  return (
    `${p.phase}, ${formatCount(p.eventsApplied)}` +
    `${total === null ? '' : ` / ${formatCount(total)}`} events${share}, ` +
    `${formatCount(p.eventsPerSecond)} events/s${eta}`
  );
}

/** `--projection a --projection b` (or `--projection a,b`) into one list. */
export function collectProjection(value: string, previous: string[] = []): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidOptionValueError('expected a projection name');
  return [...previous, ...names];
}

/** Bigints as strings, for --json. */
function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
