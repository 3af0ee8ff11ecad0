import { Command, Help, Option } from 'nest-commander';
import { Pool } from 'pg';
import { ConfigError, loadConfig } from '../../config/app-config';
import type { EventStore } from '../../event-store/event-store.port';
import type { EventStoreDbEventStore } from '../../event-store/eventstoredb/eventstoredb-event-store';
import {
  connectEventStoreDb,
  EventStoreDbRefusedError,
  redactConnectionString,
} from '../../event-store/eventstoredb/connect';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { AdminCommand, type AdminContext, EXIT, parseCount, UsageError } from '../admin-context';
import { CarryOutcome, carryCheckpointsIfIdle } from '../carry-checkpoints';
import { copyLog, CopyLogResult, describeRef, verifyCopy, VerifyReport } from '../copy-log';
import { InstallationDatabase, openInstallationDatabase } from '../installation-database';
import { formatCount, formatDuration, ProgressLine } from '../progress-line';

export interface CopyToEventStoreDbOptions {
  readonly databaseUrl?: string;
  readonly eventstore?: string;
  readonly batchSize?: number;
  readonly verifyOnly?: boolean;
  /** False with `--no-verify`. */
  readonly verify?: boolean;
  readonly json?: boolean;
}

/** What `--json` prints on stdout: one JSON document, at the end. */
export interface CopyToEventStoreDbResult {
  readonly status: 'verified' | 'differs' | 'copied' | 'interrupted' | 'failed' | 'usage';
  readonly exitCode: number;
  readonly source?: string;
  readonly target?: string;
  readonly copy?: CopyLogResult;
  readonly verify?: VerifyReport;
  /**
   * After a verified copy: the projection checkpoints moved to their EventStoreDB positions, or
   * why they were not (a server still running the projections).
   */
  readonly checkpoints?: CarryOutcome;
  readonly error?: { readonly name: string; readonly message: string };
}

/** How long to wait for EventStoreDB to answer before giving up. */
const CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_BATCH_SIZE = 500;
const MAX_BATCH_SIZE = 100_000;

/** PostgreSQL refused the URL itself (password, user, database name): configuration. */
const CONFIG_SQLSTATES = new Set(['28P01', '28000', '3D000']);

@Command({
  name: 'copy-to-eventstoredb',
  description:
    "copy the installation's PostgreSQL event log into EventStoreDB (resumable), then verify the copy",
})
export class CopyToEventStoreDbCommand extends AdminCommand {
  @Option({
    flags: '--database-url <url>',
    description:
      'the source PostgreSQL (default: DATABASE_URL; without it, the embedded database under DATA_DIR, default ./.data)',
  })
  override parseDatabaseUrl(value: string): string {
    return value;
  }

  @Option({
    flags: '--eventstore <connection-string>',
    description: 'the target EventStoreDB, esdb://… (default: EVENTSTORE_CONNECTION_STRING)',
  })
  parseEventStore(value: string): string {
    return value;
  }

  @Option({
    flags: '--batch-size <n>',
    description: 'events read from PostgreSQL per page',
    defaultValue: DEFAULT_BATCH_SIZE,
  })
  parseBatchSize(value: string): number {
    return parseCount(value, 1, MAX_BATCH_SIZE);
  }

  @Option({ flags: '--verify-only', description: 'only compare the two logs; copy nothing' })
  parseVerifyOnly(): boolean {
    return true;
  }

  @Option({ flags: '--no-verify', description: 'copy without comparing the logs afterwards' })
  parseNoVerify(): boolean {
    return false;
  }

  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
The copy keeps event ids, types, data, metadata, stream revisions and commit times. It appends
in source log order and can be stopped (Ctrl-C) and run again at any time: it resumes after the
target's last event. A target holding events that are not from this log is refused.

Source: with neither --database-url nor DATABASE_URL, the embedded PostgreSQL of \`npm start\`
under DATA_DIR is opened (started for the copy when the server is stopped). While a server still
writes to the source, run the copy once more after stopping it.

Exit status: 0 copied and verified equal (or copied, with --no-verify); 1 the logs differ, or the
copy failed (run again to resume); 2 bad usage or configuration; 130 interrupted (run again to
resume).
`;
  }

  protected async execute(_params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as CopyToEventStoreDbOptions;
    const out = new Reporter(this.context, options.json === true);
    const result = await this.copy(options, out);
    out.result(result);
    return result.exitCode;
  }

  private async copy(
    options: CopyToEventStoreDbOptions,
    out: Reporter,
  ): Promise<CopyToEventStoreDbResult> {
    const { signal } = this.context;
    let database: InstallationDatabase | null = null;
    let pool: Pool | null = null;
    let source: PostgresEventStore | null = null;
    let target: EventStoreDbEventStore | null = null;
    let sourceText: string | undefined;
    let targetText: string | undefined;
    let copied: CopyLogResult | undefined;
    const failure = (
      status: 'failed' | 'usage' | 'interrupted',
      err: unknown,
    ): CopyToEventStoreDbResult => ({
      status,
      exitCode:
        status === 'usage' ? EXIT.usage : status === 'failed' ? EXIT.failed : EXIT.interrupted,
      source: sourceText,
      target: targetText,
      copy: copied,
      error: {
        name: err instanceof Error ? err.name : 'Error',
        message: err instanceof Error ? err.message : String(err),
      },
    });

    try {
      if (options.verifyOnly && options.verify === false) {
        throw new UsageError('--verify-only and --no-verify exclude each other');
      }
      const config = loadConfig({
        ...this.context.env,
        ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
        ...(options.eventstore === undefined
          ? {}
          : { EVENTSTORE_CONNECTION_STRING: options.eventstore }),
      });
      const connectionString = config.EVENTSTORE_CONNECTION_STRING;
      if (!connectionString) {
        throw new UsageError(
          'no target: pass --eventstore esdb://host:2113 or set EVENTSTORE_CONNECTION_STRING',
        );
      }
      targetText = redactConnectionString(connectionString);

      database = await openInstallationDatabase(config);
      sourceText = database.description;
      pool = new Pool({ connectionString: database.url, max: 4 });
      // Errors of idle connections (the database stopping) surface on the next query instead.
      pool.on('error', () => undefined);
      await checkIsEventLog(pool, sourceText);
      source = new PostgresEventStore(pool);
      out.info(`source: ${sourceText} (PostgreSQL event log)`);
      if (database.shared) {
        out.info(
          'note: a server may still write to the source; stop it and run this again to copy the rest',
        );
      }

      out.info(`target: EventStoreDB at ${targetText}`);
      target = await connect(connectionString, signal, out);

      if (!options.verifyOnly) {
        copied = await copyWithProgress(source, target, options, out, signal);
        if (copied.status === 'interrupted') {
          return failure(
            'interrupted',
            new Error('interrupted: run the same command again to resume'),
          );
        }
      }
      if (options.verify === false) {
        return {
          status: 'copied',
          exitCode: EXIT.ok,
          source: sourceText,
          target: targetText,
          copy: copied,
        };
      }
      const report = await verifyWithProgress(source, target, options, out, signal);
      // The read models stay: their checkpoints move to the same events' EventStoreDB positions.
      const checkpoints =
        report.equal && !options.verifyOnly
          ? await carryCheckpointsIfIdle(pool, target)
          : undefined;
      return {
        status: report.equal ? 'verified' : 'differs',
        exitCode: report.equal ? EXIT.ok : EXIT.failed,
        source: sourceText,
        target: targetText,
        copy: copied,
        verify: report,
        checkpoints,
      };
    } catch (err) {
      if (signal.aborted) {
        return failure(
          'interrupted',
          new Error('interrupted: run the same command again to resume'),
        );
      }
      return failure(isUsageError(err) ? 'usage' : 'failed', err);
    } finally {
      await target?.close().catch(() => undefined);
      await source?.close().catch(() => undefined);
      await pool?.end().catch(() => undefined);
      await database?.close().catch(() => undefined);
    }
  }
}

function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError || err instanceof ConfigError) return true;
  if (err instanceof EventStoreDbRefusedError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFIG_SQLSTATES.has(code);
}

async function checkIsEventLog(pool: Pool, description: string): Promise<void> {
  let log: string | null;
  try {
    const { rows } = await pool.query<{ log: string | null }>(
      `SELECT to_regclass('es_events')::text AS log`,
    );
    log = rows[0].log;
  } catch (err) {
    const message = `cannot read the source, ${description}: ${(err as Error).message}`;
    throw isUsageError(err) ? new UsageError(message) : new Error(message, { cause: err });
  }
  if (log === null) {
    throw new UsageError(`${description} holds no event log (no table es_events)`);
  }
}

async function connect(
  connectionString: string,
  interrupt: AbortSignal,
  out: Reporter,
): Promise<EventStoreDbEventStore> {
  const timeout = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
  try {
    return await connectEventStoreDb(connectionString, {
      signal: AbortSignal.any([interrupt, timeout]),
      logger: { info: () => undefined, warn: (_obj, msg) => out.info(msg) },
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

async function copyWithProgress(
  source: EventStore,
  target: EventStore,
  options: CopyToEventStoreDbOptions,
  out: Reporter,
  signal: AbortSignal,
): Promise<CopyLogResult> {
  const line = out.progressLine();
  const result = await copyLog(source, target, {
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    signal,
    onProgress: (p) => {
      const percent = p.total > 0 ? ` (${((100 * p.copied) / p.total).toFixed(1)} %)` : '';
      const eta = p.etaSeconds === null ? '' : `, ETA ${formatDuration(p.etaSeconds)}`;
      line.update(
        `copying: ${formatCount(p.copied)} / ${formatCount(p.total)} events${percent}, ` +
          `${formatCount(p.eventsPerSecond)} events/s${eta}`,
      );
    },
  });
  line.finish();
  const resumed = result.resumedAfter
    ? `; resumed after ${describeRef(result.resumedAfter)} (${formatCount(result.alreadyCopied)} events were already there)`
    : '';
  out.say(
    `${result.status === 'interrupted' ? 'interrupted after copying' : 'copied'} ` +
      `${formatCount(result.copied)} events in ${formatDuration(result.elapsedMs / 1000)} ` +
      `(${formatCount(result.eventsPerSecond)} events/s)${resumed}`,
  );
  return result;
}

async function verifyWithProgress(
  source: EventStore,
  target: EventStore,
  options: CopyToEventStoreDbOptions,
  out: Reporter,
  signal: AbortSignal,
): Promise<VerifyReport> {
  const line = out.progressLine();
  const report = await verifyCopy(source, target, {
    batchSize: Math.max(options.batchSize ?? DEFAULT_BATCH_SIZE, 1000),
    signal,
    onProgress: (p) =>
      line.update(
        `verifying: read ${formatCount(p.sourceEvents)} source and ` +
          `${formatCount(p.targetEvents)} target events`,
      ),
  });
  line.finish();
  return report;
}

/**
 * The command's output: progress and diagnostics on stderr; the result on stdout, as text or,
 * with --json, as one JSON document.
 */
class Reporter {
  constructor(
    private readonly context: AdminContext,
    private readonly json: boolean,
  ) {}

  /** Diagnostics and notes: stderr. */
  info(text: string): void {
    this.context.stderr.write(`${text}\n`);
  }

  /** Part of the result: stdout, unless the result goes out as JSON. */
  say(text: string): void {
    if (!this.json) this.context.stdout.write(`${text}\n`);
  }

  progressLine(): ProgressLine {
    return new ProgressLine(this.context.stderr);
  }

  result(result: CopyToEventStoreDbResult): void {
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(result, jsonValue, 2)}\n`);
      if (result.error) this.info(`error: ${result.error.message}`);
      return;
    }
    const say = (text: string) => this.say(text);
    if (result.error) {
      this.info(`${result.status === 'interrupted' ? '' : 'error: '}${result.error.message}`);
      return;
    }
    const report = result.verify;
    if (!report) {
      say('copy complete (not verified: --no-verify)');
      return;
    }
    if (report.equal) {
      say(
        `verified: ${formatCount(report.sourceEvents)} events in ${formatCount(report.streams)} ` +
          'streams, identical in both stores',
      );
      const checkpoints = result.checkpoints;
      if (checkpoints && 'carried' in checkpoints) {
        say(
          `carried ${checkpoints.carried.length} projection checkpoint(s) over to their ` +
            'EventStoreDB positions: the read models carry on from the new log',
        );
        say('next: start the servers with EVENTSTORE_CONNECTION_STRING set');
      } else if (checkpoints) {
        say(`checkpoints not carried over: ${checkpoints.skipped}`);
      }
      return;
    }
    const differing = report.mismatches.length + report.moreMismatches;
    say(
      `verification failed: ${formatCount(report.sourceEvents)} events in the source, ` +
        `${formatCount(report.targetEvents)} in the target; ${formatCount(differing)} of ` +
        `${formatCount(report.streams)} streams differ:`,
    );
    for (const m of report.mismatches) {
      say(
        `  ${m.streamId}: ${m.reason} (source ${formatCount(m.sourceCount)} events, target ` +
          `${formatCount(m.targetCount)})`,
      );
    }
    if (report.moreMismatches > 0) say(`  … and ${formatCount(report.moreMismatches)} more`);
  }
}

/** Dates as ISO strings, bigints (none expected) as strings. */
function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
