import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync, type WriteStream } from 'node:fs';
import { Command, Help, Option } from 'nest-commander';
import { DomainError } from '../../common/errors';
import { START } from '../../event-store/event-store.port';
import { cliMetadata, recordAdminOperation } from '../admin-actions';
import {
  AdminCommand,
  type AdminOutput,
  EXIT,
  InvalidOptionValueError,
  parseCount,
  UsageError,
} from '../admin-context';
import { formatCount, formatDuration, ProgressLine } from '../progress-line';
import {
  AdminInstallation,
  isUsageError,
  openAdminInstallation,
} from '../streams/admin-installation';
import { STREAM_ID_PATTERN, STREAM_ID_RULE } from '../streams/streams.request.dto';
import { readDataKeys } from '../../crypto/key-ring';
import {
  CATEGORY_PATTERN,
  ExportFilter,
  exportInstant,
  exportLines,
  ExportResult,
  filterText,
} from './export-events';

export interface ExportCommandOptions {
  readonly databaseUrl?: string;
  readonly stream?: string[];
  readonly category?: string[];
  readonly since?: string;
  readonly until?: string;
  readonly output?: string;
  readonly batchSize?: number;
  readonly withKeys?: boolean;
}

const DEFAULT_BATCH_SIZE = 1000;
const MAX_BATCH_SIZE = 100_000;

@Command({
  name: 'export',
  description: 'write events of the log as NDJSON (one JSON object per line), in log order',
})
export class ExportCommand extends AdminCommand {
  @Option({ flags: '--stream <stream-id>', description: 'only this stream (repeat for more)' })
  parseStream(value: string, previous: string[] = []): string[] {
    if (!STREAM_ID_PATTERN.test(value)) throw new InvalidOptionValueError(STREAM_ID_RULE);
    return [...previous, value];
  }

  @Option({
    flags: '--category <category>',
    description: "only streams of this category, the id's part before its first dash (repeat)",
  })
  parseCategory(value: string, previous: string[] = []): string[] {
    if (!CATEGORY_PATTERN.test(value)) {
      throw new InvalidOptionValueError('a category is 1-64 characters of A-Z a-z 0-9 _');
    }
    return [...previous, value];
  }

  @Option({
    flags: '--since <time>',
    description: 'recorded at or after (inclusive): 2026-12-05 (UTC) or 2026-12-05T09:00:00Z',
  })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--until <time>', description: 'recorded before (exclusive), as --since' })
  parseUntil(value: string): string {
    return value;
  }

  @Option({
    flags: '--output <file>',
    description: 'where to write: a file, or - for stdout (the default)',
  })
  parseOutput(value: string): string {
    return value;
  }

  @Option({
    flags: '--batch-size <n>',
    description: 'events read from the log per page',
    defaultValue: DEFAULT_BATCH_SIZE,
  })
  parseBatchSize(value: string): number {
    return parseCount(value, 1, MAX_BATCH_SIZE);
  }

  @Option({
    flags: '--with-keys',
    description:
      "carry the data keys the events need: their sealed content's (wrapped under the master key, so that an import with the same MASTER_KEY opens it), and erased users' (destroyed)",
  })
  parseWithKeys(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
One line per event: id, stream, revision, type, created_at, metadata, data (as stored: sealed
content stays sealed) and the source position, after a header line and before a summary line
with the count (docs/admin/streams-export-erasure.md). Filters: events of any --stream or
--category given, within --since/--until. The export ends at the head the log had when it
started. A file is written as <file>.partial and renamed when complete.

Sealed content (message texts) stays sealed. With --with-keys the export also carries, after the
events, the data keys of the users whose sealed content it holds, and of the users it erases,
as user_keys holds them:
wrapped under the installation's master key, or destroyed (an erased user's stays destroyed).
Whoever has the file and the master key can read that content: keep both apart.

Examples:
  npm run admin -- export --output events.ndjson
  npm run admin -- export --category conversation --since 2026-12-01 --output december.ndjson
  npm run admin -- export --stream group-tea --stream conversation-g_tea | gzip > tea.ndjson.gz

Exit status: 0 exported; 1 the log could not be read or the file written; 2 bad usage; 130
interrupted (no file is left).
`;
  }

  protected async execute(_params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as ExportCommandOptions;
    const { stderr, signal } = this.context;
    let installation: AdminInstallation | null = null;
    let file: WriteStream | null = null;
    const target = options.output ?? '-';
    const partial = `${target}.partial`;
    let filter: ExportFilter = {};
    let exported = 0;
    const record = async (outcome: string, detail: Record<string, unknown>) => {
      if (!installation) return;
      await recordAdminOperation(installation.store, cliMetadata(this.context.env), {
        operation: 'export',
        args: {
          ...filterText(filter),
          output: target,
          ...(options.withKeys ? { keys: true } : {}),
        },
        outcome,
        detail,
      }).catch((err: unknown) =>
        stderr.write(`warning: the export could not be recorded: ${(err as Error).message}\n`),
      );
    };
    try {
      filter = {
        streams: options.stream,
        categories: options.category,
        since: options.since ? exportInstant(options.since, '--since') : undefined,
        until: options.until ? exportInstant(options.until, '--until') : undefined,
      };
      if (filter.since && filter.until && filter.since >= filter.until) {
        throw new UsageError('--since must be before --until');
      }
      installation = await openAdminInstallation(this.context, {
        databaseUrl: options.databaseUrl,
      });
      const { store } = installation;
      stderr.write(`source: ${installation.storeText}\n`);
      let out: AdminOutput = this.context.stdout;
      if (target !== '-') {
        file = createWriteStream(partial, { flags: 'w', mode: 0o600 });
        await once(file, 'open');
        out = file;
      }
      // For progress only: on EventStoreDB a count reads the whole log, so it is left out there.
      const total =
        store.adapter === 'postgres'
          ? await store.countAfter(START, Number.MAX_SAFE_INTEGER)
          : null;
      const line = new ProgressLine(stderr);
      const started = performance.now();
      const pool = installation.pool;
      const lines = exportLines(store, filter, {
        batchSize: options.batchSize,
        signal,
        keys: options.withKeys ? (uids) => readDataKeys(pool, uids) : undefined,
        onProgress: (p) => {
          exported = p.exported;
          const seconds = (performance.now() - started) / 1000;
          const perSecond = seconds > 0 ? p.read / seconds : 0;
          const eta =
            total !== null && perSecond > 0
              ? `, ETA ${formatDuration(Math.max(0, total - p.read) / perSecond)}`
              : '';
          const of = total === null ? '' : ` / ${formatCount(total)}`;
          line.update(
            `exporting: read ${formatCount(p.read)}${of} events, ` +
              `exported ${formatCount(p.exported)}, ${formatCount(perSecond)} events/s${eta}`,
          );
        },
      });
      let result: IteratorResult<string, ExportResult>;
      while (!(result = await lines.next()).done) {
        if (out.write(result.value) === false && 'once' in out)
          await once(out as WriteStream, 'drain');
      }
      exported = result.value.exported;
      line.finish();
      if (file) {
        const closing = file;
        file = null;
        await new Promise<void>((resolve, reject) =>
          closing.end((err?: Error | null) => (err ? reject(err) : resolve())),
        );
        renameSync(partial, target);
      }
      const seconds = (performance.now() - started) / 1000;
      stderr.write(
        `exported ${formatCount(exported)} of ${formatCount(result.value.read)} events` +
          `${options.withKeys ? ` and ${formatCount(result.value.keys)} data keys` : ''} in ` +
          `${formatDuration(seconds)}${target === '-' ? '' : ` to ${target}`}\n`,
      );
      if (result.value.keyless > 0) {
        stderr.write(
          `warning: ${formatCount(result.value.keyless)} user(s) whose sealed content the export ` +
            'holds have no data key here: their content opens nowhere\n',
        );
      }
      await record('completed', {
        events: exported,
        read: result.value.read,
        ...(options.withKeys ? { keys: result.value.keys, keyless: result.value.keyless } : {}),
      });
      return EXIT.ok;
    } catch (err) {
      const interrupted = signal.aborted;
      stderr.write(interrupted ? 'interrupted\n' : `error: ${(err as Error).message}\n`);
      await record(interrupted ? 'interrupted' : 'failed', {
        events: exported,
        error: (err as Error).message,
      });
      if (interrupted) return EXIT.interrupted;
      if (err instanceof DomainError) return EXIT.usage;
      return isUsageError(err) ? EXIT.usage : EXIT.failed;
    } finally {
      if (file) {
        file.destroy();
        rmSync(partial, { force: true });
      }
      await installation?.close();
    }
  }
}
