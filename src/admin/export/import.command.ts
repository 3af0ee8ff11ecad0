import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, Help, Option } from 'nest-commander';
import { cliMetadata, recordAdminOperation } from '../admin-actions';
import { AdminCommand, EXIT, parseCount, UsageError } from '../admin-context';
import { formatCount, formatDuration, ProgressLine } from '../progress-line';
import { restoreDataKeys } from '../../crypto/key-ring';
import {
  AdminInstallation,
  cliMasterKey,
  isUsageError,
  openAdminInstallation,
} from '../streams/admin-installation';
import {
  checkDataKeys,
  ImportAppendError,
  importEvents,
  ImportKeysError,
  ImportResult,
  ImportTargetNotEmptyError,
  someOf,
  validateExport,
  ValidatedExport,
} from './import-events';
import { ImportLineError } from './ndjson-format';

export interface ImportCommandOptions {
  readonly databaseUrl?: string;
  readonly batchSize?: number;
  readonly json?: boolean;
}

/** What `--json` prints on stdout. */
export interface ImportCommandResult {
  readonly status: 'completed' | 'interrupted' | 'invalid' | 'refused' | 'failed' | 'usage';
  readonly exitCode: number;
  readonly target?: string;
  readonly validated?: ValidatedExport;
  readonly import?: ImportResult;
  /**
   * Data keys: those the file carried (key lines), destroyed ones written for the users it erases
   * without a key line, and how many of all these were added to `user_keys` (the others were
   * there already, the same).
   */
  readonly keys?: { readonly carried: number; readonly erased: number; readonly restored: number };
  /** The bad line, when the file was refused or an append failed. */
  readonly line?: number;
  /** Events imported before a failure. */
  readonly imported?: number;
  readonly error?: { readonly name: string; readonly message: string };
}

const DEFAULT_BATCH_SIZE = 500;
const MAX_BATCH_SIZE = 100_000;

/** Where a file read from stdin is kept for the second pass. */
interface Spooled {
  readonly path: string;
  remove(): void;
}

@Command({
  name: 'import',
  arguments: '<file>',
  description: 'import an NDJSON export (npm run admin -- export) into an empty event store',
})
export class ImportCommand extends AdminCommand {
  @Option({
    flags: '--database-url <url>',
    description:
      'the target PostgreSQL (default: DATABASE_URL; without it, the embedded database under DATA_DIR); migrated first',
  })
  override parseDatabaseUrl(value: string): string {
    return value;
  }

  @Option({
    flags: '--batch-size <n>',
    description: 'events gathered before they are appended',
    defaultValue: DEFAULT_BATCH_SIZE,
  })
  parseBatchSize(value: string): number {
    return parseCount(value, 1, MAX_BATCH_SIZE);
  }

  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
<file> is an export of npm run admin -- export, or - to read it from stdin. The target is
EventStoreDB with EVENTSTORE_CONNECTION_STRING, else the PostgreSQL log of the installation's
database (migrated first, so a fresh database will do). It must hold no event.

Every line is checked first (JSON, fields, each stream whole from revision 0 without a gap, the
summary's count): a bad line stops the import before anything is written, naming the line. Then
the events are appended in file order at their revisions, keeping ids, types, data, metadata and
times (EventStoreDB keeps created_at; the PostgreSQL log records its own commit time).

Data keys: an export made with --with-keys carries the data keys its events need, wrapped under
the source installation's master key (erased users' destroyed). They are checked before anything is written (each
must open under this installation's MASTER_KEY, so set it to the source's, and run the server
with it too; a user that has a key here already must have that same one) and go into user_keys
just before the events. A user the file erases gets a destroyed key, keys or not, so erasures
survive. Without keys, copy the user_keys table (and MASTER_KEY) for content to open.

Exit status: 0 imported; 1 an append failed (the output says how many events were imported
before it); 2 bad usage, a bad line, data keys this installation cannot take or a target that
is not empty (nothing was written); 130
interrupted (the events appended so far stay).
`;
  }

  protected async execute(params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as ImportCommandOptions;
    const [source] = params;
    const result = await this.importFile(source, options);
    const { stdout, stderr } = this.context;
    if (options.json) stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.error) {
      stderr.write(`${result.status === 'interrupted' ? '' : 'error: '}${result.error.message}\n`);
    } else if (!options.json && result.import) {
      const r = result.import;
      const k = result.keys;
      const keys =
        (k?.carried ? ` and ${formatCount(k.carried)} data keys` : '') +
        (k?.erased ? `, keeping ${formatCount(k.erased)} erased user(s) erased` : '') +
        (k && k.restored < k.carried + k.erased
          ? ` (${formatCount(k.carried + k.erased - k.restored)} key(s) there already)`
          : '');
      stdout.write(
        `imported ${formatCount(r.imported)} events of ${formatCount(r.streams)} streams${keys} ` +
          `into ${result.target} in ${formatDuration(r.elapsedMs / 1000)} ` +
          `(${formatCount(r.eventsPerSecond)} events/s)\n`,
      );
    }
    return result.exitCode;
  }

  private async importFile(
    source: string,
    options: ImportCommandOptions,
  ): Promise<ImportCommandResult> {
    const { signal, stderr } = this.context;
    let installation: AdminInstallation | null = null;
    let spooled: Spooled | null = null;
    let target: string | undefined;
    let validated: ValidatedExport | undefined;
    const failure = (
      status: ImportCommandResult['status'],
      exitCode: number,
      err: unknown,
      extra: Partial<ImportCommandResult> = {},
    ): ImportCommandResult => ({
      status,
      exitCode,
      target,
      validated,
      ...extra,
      error: {
        name: err instanceof Error ? err.name : 'Error',
        message: err instanceof Error ? err.message : String(err),
      },
    });
    try {
      let path = source;
      if (source === '-') {
        spooled = await spoolStdin();
        path = spooled.path;
      }
      const lines = () => readLines(path);
      // The file first: a bad one is refused before the target is even opened.
      const { dataKeys, keyless, ...counts } = await validateExport(lines());
      validated = counts;
      stderr.write(
        `checked ${formatCount(validated.lines)} lines: ${formatCount(validated.events)} events ` +
          `of ${formatCount(validated.streams)} streams` +
          `${validated.keys > 0 ? `, ${formatCount(validated.keys)} data keys` : ''}` +
          `${validated.summary ? ', complete (the summary matches)' : ' (no summary line)'}\n`,
      );
      installation = await openAdminInstallation(this.context, {
        databaseUrl: options.databaseUrl,
        migrate: true,
      });
      target = installation.storeText;
      stderr.write(`target: ${target}\n`);
      const { pool } = installation;
      checkDataKeys(cliMasterKey(installation.config), dataKeys);
      if (keyless.length > 0) {
        stderr.write(
          `warning: the file carries no data key for ${keyless.length} user(s) whose sealed ` +
            `content it holds (${someOf(keyless)}): it will not open here unless their keys are ` +
            'in user_keys (export --with-keys carries them)\n',
        );
      }
      let restored = 0;
      const line = new ProgressLine(stderr);
      const outcome = await importEvents(installation.store, lines(), validated, {
        batchSize: options.batchSize,
        signal,
        beforeWriting: async () => {
          // All or none, before any event: a user with another key here refuses the import.
          const written = await restoreDataKeys(pool, dataKeys);
          if (written.clashing.length > 0) {
            throw new ImportKeysError(
              `${written.clashing.length} user(s) (${someOf(written.clashing)}) already have ` +
                'another data key here (or a destroyed one): import into a fresh database',
            );
          }
          restored = written.restored;
        },
        onProgress: (p) => {
          const percent = p.total > 0 ? ` (${((100 * p.imported) / p.total).toFixed(1)} %)` : '';
          const eta = p.etaSeconds === null ? '' : `, ETA ${formatDuration(p.etaSeconds)}`;
          line.update(
            `importing: ${formatCount(p.imported)} / ${formatCount(p.total)} events${percent}, ` +
              `${formatCount(p.eventsPerSecond)} events/s${eta}`,
          );
        },
      });
      line.finish();
      const keys = { carried: validated.keys, erased: dataKeys.length - validated.keys, restored };
      await this.record(installation, source, outcome.status, {
        events: outcome.imported,
        ...(dataKeys.length > 0
          ? { keys: keys.carried, keys_destroyed: keys.erased, keys_restored: restored }
          : {}),
      });
      if (outcome.status === 'interrupted') {
        return failure(
          'interrupted',
          EXIT.interrupted,
          new Error(
            `interrupted after importing ${outcome.imported} of ${outcome.total} events; the ` +
              'target is no longer empty: empty it before importing again',
          ),
          { import: outcome, keys },
        );
      }
      return { status: 'completed', exitCode: EXIT.ok, target, validated, import: outcome, keys };
    } catch (err) {
      if (err instanceof ImportLineError) {
        return failure('invalid', EXIT.usage, err, { line: err.line });
      }
      if (err instanceof ImportKeysError) return failure('refused', EXIT.usage, err);
      if (err instanceof ImportTargetNotEmptyError) {
        if (installation) await this.record(installation, source, 'refused', {});
        return failure('refused', EXIT.usage, err);
      }
      if (err instanceof ImportAppendError) {
        if (installation) {
          await this.record(installation, source, 'failed', {
            events: err.imported,
            line: err.line,
          });
        }
        return failure('failed', EXIT.failed, err, { line: err.line, imported: err.imported });
      }
      return failure(
        isUsageError(err) ? 'usage' : 'failed',
        isUsageError(err) ? EXIT.usage : EXIT.failed,
        err,
      );
    } finally {
      await installation?.close();
      spooled?.remove();
    }
  }

  /**
   * Records the import in the target, only once it holds events (imported, or there before): an
   * empty target that refused a file stays empty, so the corrected file can go in.
   */
  private async record(
    installation: AdminInstallation,
    source: string,
    outcome: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await recordAdminOperation(installation.store, cliMetadata(this.context.env), {
      operation: 'import',
      args: { file: source },
      outcome,
      detail,
    }).catch((err: unknown) =>
      this.context.stderr.write(
        `warning: the import could not be recorded: ${(err as Error).message}\n`,
      ),
    );
  }
}

/** The lines of a file (without their `\n` or `\r\n`), read as a stream. */
async function* readLines(path: string): AsyncGenerator<string> {
  const input: Readable = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (err) => reject(new UsageError(`cannot read ${path}: ${err.message}`)));
  });
  await opened;
  const reader = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of reader) yield line;
  } finally {
    reader.close();
    input.destroy();
  }
}

/** Stdin copied to a private temporary file: the import reads its input twice. */
async function spoolStdin(): Promise<Spooled> {
  const dir = mkdtempSync(join(tmpdir(), 'im-import-'));
  const path = join(dir, 'stdin.ndjson');
  await pipeline(process.stdin, createWriteStream(path, { mode: 0o600 }));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
