import {
  DuplicateEventIdError,
  EventStore,
  RecordedEvent,
  START,
  WrongExpectedVersionError,
} from '../../event-store/event-store.port';
import { type StoredDataKey, wrappedUnder } from '../../crypto/key-ring';
import { AppendRequest, PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { describeRef, streamRuns } from '../copy-log';
import { addKeyOwners } from './export-events';
import { ExportedEvent, ImportLineError, parseLine, toEventData } from './ndjson-format';

/**
 * Importing an NDJSON export (ndjson-format.ts) into an empty store (`npm run admin -- import`).
 * Two passes over the file: the first checks every line (JSON, fields, each stream's revisions
 * from 0 without a gap, the summary's count) and writes nothing, keeping the data keys the file
 * carries (one line per user, `export --with-keys`); the second appends the events
 * in file order, each run of one stream's consecutive events as one append at the expected
 * revision it had (`no_stream` for revision 0), keeping ids, types, data, metadata and the
 * original time (`recordedAt`: EventStoreDB keeps it on any append, the PostgreSQL log through its
 * import path).
 */

/** The target holds events already: an import only goes into an empty store. */
export class ImportTargetNotEmptyError extends Error {
  override readonly name = 'ImportTargetNotEmptyError';
  constructor(readonly lastEvent: RecordedEvent) {
    super(
      `the target store is not empty (its last event is ${describeRef(lastEvent)}): ` +
        'an import only goes into an empty store (a fresh database, or an empty EventStoreDB)',
    );
  }
}

/** An append of the second pass failed: the events before `line` were imported, no others. */
export class ImportAppendError extends Error {
  override readonly name = 'ImportAppendError';
  constructor(
    readonly line: number,
    readonly imported: number,
    reason: string,
    override readonly cause?: unknown,
  ) {
    super(
      `line ${line}: ${reason}. ${imported} event(s) were imported before it (the lines ` +
        'before it); the target is no longer empty: empty it before importing again',
    );
  }
}

export interface ValidatedExport {
  readonly events: number;
  readonly streams: number;
  readonly lines: number;
  /** The file ended with a summary whose count matched. */
  readonly summary: boolean;
  /** Data keys it carries (`export --with-keys`), one per user. */
  readonly keys: number;
}

/** What the first pass found: the counts, and the data keys themselves. */
export interface CheckedExport extends ValidatedExport {
  /**
   * The data keys to write before the events: the file's key lines, and a destroyed key for each
   * user the file erases (`UserErased`) without a key line, so that they stay erased.
   */
  readonly dataKeys: readonly StoredDataKey[];
  /** Users whose sealed content the file holds with no key line for them: it will not open. */
  readonly keyless: readonly string[];
}

/** The target cannot take the data keys the file carries: nothing was written. */
export class ImportKeysError extends Error {
  override readonly name = 'ImportKeysError';
}

/**
 * Checks the data keys an export carries against the target's master key before anything is
 * written: each must open under it (they were wrapped under the source's, so the two must be the
 * same), unless destroyed. (A user who has another key there is refused when the keys are
 * written: restoreDataKeys.)
 * @throws ImportKeysError saying which users and what to do.
 */
export function checkDataKeys(masterKey: Buffer | null, keys: readonly StoredDataKey[]): void {
  const live = keys.filter((k) => k.wrappedKey !== null);
  if (live.length > 0 && masterKey === null) {
    throw new ImportKeysError(
      `the file carries the data keys of ${live.length} user(s), wrapped under the master key ` +
        'of the installation it comes from, and this installation has no master key: set ' +
        'MASTER_KEY to that one, for the import and for the server afterwards (an embedded ' +
        'installation started without it makes a master key of its own)',
    );
  }
  const foreign = live.filter((k) => !wrappedUnder(masterKey!, k.uid, k.wrappedKey!));
  if (foreign.length > 0) {
    throw new ImportKeysError(
      `the data keys of ${foreign.length} user(s) (${someOf(foreign.map((k) => k.uid))}) do not ` +
        "open under this installation's master key: set MASTER_KEY to the master key of the " +
        'installation the file comes from',
    );
  }
}

/** A few of `uids` for a message: `a, b, c, d, e and 7 more`. */
export function someOf(uids: readonly string[]): string {
  return `${uids.slice(0, 5).join(', ')}${uids.length > 5 ? ` and ${uids.length - 5} more` : ''}`;
}

export interface ImportProgress {
  readonly imported: number;
  readonly total: number;
  readonly eventsPerSecond: number;
  readonly etaSeconds: number | null;
}

export interface ImportOptions {
  /** Events gathered before they are appended, run by run (default 500). */
  readonly batchSize?: number;
  /** Largest append in bytes of JSON (default 512 KiB, under EventStoreDB's 1 MiB). */
  readonly maxAppendBytes?: number;
  /** Stops between two appends; the result then says `interrupted`. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Run once the target is found empty, before the first append (the data keys go in). */
  readonly beforeWriting?: () => Promise<void>;
}

export interface ImportResult {
  readonly status: 'completed' | 'interrupted';
  readonly imported: number;
  readonly total: number;
  readonly streams: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
}

/**
 * The first pass: every line checked, nothing written.
 * @throws ImportLineError naming the first bad line.
 */
export async function validateExport(lines: AsyncIterable<string>): Promise<CheckedExport> {
  const next = new Map<string, number>();
  let events = 0;
  let lineNo = 0;
  let summary: { line: number; events: number } | null = null;
  const keys = new Map<string, { key: StoredDataKey; line: number }>();
  const owners = new Set<string>();
  const erased = new Map<string, Date>();
  for await (const text of lines) {
    lineNo++;
    if (summary) {
      throw new ImportLineError(lineNo, `more lines after the summary on line ${summary.line}`);
    }
    const parsed = parseLine(text, lineNo);
    if (parsed.kind === 'header') {
      if (lineNo !== 1) throw new ImportLineError(lineNo, 'a header after the first line');
      continue;
    }
    if (parsed.kind === 'summary') {
      summary = { line: lineNo, events: parsed.events };
      continue;
    }
    if (parsed.kind === 'key') {
      if (keys.has(parsed.key.uid)) {
        throw new ImportLineError(lineNo, `a second key of user ${parsed.key.uid}`);
      }
      keys.set(parsed.key.uid, { key: parsed.key, line: lineNo });
      continue;
    }
    const erasing = addKeyOwners(parsed.event, owners);
    if (erasing !== null) erased.set(erasing, new Date(parsed.event.created_at));
    const { stream, revision } = parsed.event;
    const expected = next.get(stream) ?? 0;
    if (revision !== expected) {
      throw new ImportLineError(
        lineNo,
        expected === 0
          ? `stream ${stream} starts at revision ${revision}: an import needs each stream ` +
              'whole, from revision 0 (an export filtered by time holds parts of streams)'
          : `stream ${stream} goes from revision ${expected - 1} to ${revision}: ` +
              (revision < expected ? 'a repeated revision' : `revisions ${expected}… are missing`),
      );
    }
    next.set(stream, revision + 1);
    events++;
  }
  if (summary && summary.events !== events) {
    throw new ImportLineError(
      summary.line,
      `the summary counts ${summary.events} events, the file holds ${events}: it is incomplete`,
    );
  }
  if (events === 0) throw new ImportLineError(Math.max(lineNo, 1), 'the file holds no events');
  // A key line only for a user whose key the events need, and destroyed for a user they erase:
  // an edited file cannot mark another user erased, nor bring an erased user's key back.
  for (const { key, line } of keys.values()) {
    if (!owners.has(key.uid)) {
      throw new ImportLineError(
        line,
        `a key of user ${key.uid}, who neither sealed content in the file nor is erased by it`,
      );
    }
    if (erased.has(key.uid) && key.wrappedKey !== null) {
      throw new ImportLineError(
        line,
        `user ${key.uid} is erased in the file, but not this key (if the source restored it from ` +
          'a backup, erase the user there again with npm run admin -- erase-user, and export again)',
      );
    }
  }
  const destroyed = [...erased]
    .filter(([uid]) => !keys.has(uid))
    .map(([uid, at]): StoredDataKey => ({ uid, wrappedKey: null, createdAt: at, destroyedAt: at }));
  return {
    events,
    streams: next.size,
    lines: lineNo,
    summary: summary !== null,
    keys: keys.size,
    dataKeys: [...[...keys.values()].map((k) => k.key), ...destroyed],
    keyless: [...owners].filter((uid) => !keys.has(uid) && !erased.has(uid)).sort(),
  };
}

/**
 * Imports a file that {@link validateExport} accepted (`lines` is read again from the start).
 * @throws ImportTargetNotEmptyError when the store holds any event.
 * @throws ImportAppendError when an append fails (say, another writer, or an event id already
 *   used by another stream): the events before it were imported.
 */
export async function importEvents(
  store: EventStore,
  lines: AsyncIterable<string>,
  validated: ValidatedExport,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 500;
  const maxAppendBytes = options.maxAppendBytes ?? 512 * 1024;
  const last = await store.lastEvent();
  if (last) throw new ImportTargetNotEmptyError(last);
  await options.beforeWriting?.();

  const started = performance.now();
  const total = validated.events;
  let imported = 0;
  const rate = () => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? imported / seconds : 0;
  };
  const report = () => {
    const eventsPerSecond = rate();
    options.onProgress?.({
      imported,
      total,
      eventsPerSecond,
      etaSeconds: eventsPerSecond > 0 ? (total - imported) / eventsPerSecond : null,
    });
  };
  const result = (status: ImportResult['status']): ImportResult => {
    report();
    return {
      status,
      imported,
      total,
      streams: validated.streams,
      elapsedMs: performance.now() - started,
      eventsPerSecond: rate(),
    };
  };

  const lineOf = new Map<RecordedEvent, number>();
  let page: RecordedEvent[] = [];
  const flush = async (): Promise<boolean> => {
    const runs = [...streamRuns(page, maxAppendBytes)];
    if (options.signal?.aborted) return false;
    if (await appendAll(store, runs)) {
      imported += page.length;
    } else {
      for (const run of runs) {
        if (options.signal?.aborted) return false;
        await appendRun(store, run, lineOf.get(run[0])!, imported);
        imported += run.length;
      }
    }
    page = [];
    lineOf.clear();
    report();
    return true;
  };

  report();
  let lineNo = 0;
  for await (const text of lines) {
    lineNo++;
    const parsed = parseLine(text, lineNo);
    if (parsed.kind !== 'event') continue;
    const event = asRecorded(parsed.event);
    lineOf.set(event, lineNo);
    page.push(event);
    if (page.length >= batchSize && !(await flush())) return result('interrupted');
  }
  if (!(await flush())) return result('interrupted');
  return result('completed');
}

/** The line's event in the shape copy-log's stream runs take. */
function asRecorded(e: ExportedEvent): RecordedEvent {
  return {
    id: e.id,
    type: e.type,
    streamId: e.stream,
    revision: e.revision,
    position: START,
    data: e.data,
    metadata: e.metadata,
    createdAt: new Date(e.created_at),
  };
}

/** A run of one stream's events as the append that writes it at its revisions. */
function appendOf(run: readonly RecordedEvent[]): AppendRequest {
  const first = run[0];
  return {
    streamId: first.streamId,
    events: run.map((e) =>
      toEventData({
        id: e.id,
        stream: e.streamId,
        revision: e.revision,
        type: e.type,
        created_at: e.createdAt.toISOString(),
        metadata: e.metadata,
        data: e.data,
      }),
    ),
    expected: first.revision === 0 ? 'no_stream' : first.revision - 1,
  };
}

/**
 * Every run of a page in one transaction, on the PostgreSQL log (PostgresEventStore
 * .appendImportedAll): an export interleaves streams, so runs are of one or two events, and one
 * transaction each was most of an import's time (1,761 events/s). False when they were not all
 * written, so nothing was (or on EventStoreDB, whose appends are one stream's each): the page is
 * then appended run by run, which finds the failing line and says why.
 */
async function appendAll(store: EventStore, runs: readonly RecordedEvent[][]): Promise<boolean> {
  if (!(store instanceof PostgresEventStore) || runs.length < 2) return false;
  try {
    return await store.appendImportedAll(runs.map(appendOf));
  } catch {
    // Run by run, the same failure is told with its line.
    return false;
  }
}

async function appendRun(
  store: EventStore,
  run: readonly RecordedEvent[],
  line: number,
  imported: number,
): Promise<void> {
  const first = run[0];
  const last = run[run.length - 1];
  const fail = (reason: string, cause?: unknown): never => {
    throw new ImportAppendError(line, imported, reason, cause);
  };
  let written: Awaited<ReturnType<EventStore['append']>>;
  try {
    const append = appendOf(run);
    written = await appendKeepingTimes(store, append.streamId, append.events, append.expected);
  } catch (err) {
    if (err instanceof WrongExpectedVersionError) {
      return fail(
        `stream ${first.streamId} is at revision ${String(err.actual)} in the target, not ` +
          `${first.revision - 1}: something else writes to the target`,
        err,
      );
    }
    if (err instanceof DuplicateEventIdError) {
      return fail(`event id(s) ${err.eventIds.join(', ')} already belong to another stream`, err);
    }
    // Anything else (the store unreachable, a refused event): the append may or may not have
    // been written; the count says what certainly was.
    return fail(err instanceof Error ? err.message : String(err), err);
  }
  if (written.alreadyWritten || written.nextExpectedRevision !== last.revision) {
    fail(`the target did not take the events of ${first.streamId} from revision ${first.revision}`);
  }
}

/**
 * An append that keeps each event's `recordedAt`: EventStoreDB's append does
 * (`$originalCreated`); the PostgreSQL log's only does on its import path, its normal appends
 * taking the database's time.
 */
function appendKeepingTimes(
  store: EventStore,
  ...[streamId, events, expected]: Parameters<EventStore['append']>
): ReturnType<EventStore['append']> {
  return store instanceof PostgresEventStore
    ? store.appendImported(streamId, events, expected)
    : store.append(streamId, events, expected);
}
