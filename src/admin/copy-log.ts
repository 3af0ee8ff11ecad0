import { createHash } from 'node:crypto';
import {
  EventData,
  EventStore,
  Position,
  RecordedEvent,
  START,
  WrongExpectedVersionError,
} from '../event-store/event-store.port';

/**
 * Copying one installation's event log into another store (`npm run admin --
 * copy-to-eventstoredb`) and checking the copy. Works on the {@link EventStore} port only, so
 * any pair of adapters will do; the CLI copies the PostgreSQL log into EventStoreDB.
 *
 * The copy keeps what readers depend on: event ids, types, data, metadata, stream revisions and
 * the original commit time (`recordedAt`). Global positions differ between stores and are not
 * kept: projection checkpoints are moved to the target's positions afterwards
 * (carry-checkpoints.ts).
 */

/** An event named by what identifies it in every store. */
export interface EventRef {
  readonly streamId: string;
  readonly revision: number;
  readonly id: string;
}

export interface CopyProgress {
  /** Events in the target so far, including those a previous run copied. */
  readonly copied: number;
  readonly total: number;
  /** Rate of this run. */
  readonly eventsPerSecond: number;
  /** Null until a rate is known. */
  readonly etaSeconds: number | null;
}

export interface CopyLogOptions {
  /** Events read from the source per page (default 500). Each page is appended stream run by stream run. */
  readonly batchSize?: number;
  /** Stops the copy between two appends; a later run resumes. */
  readonly signal?: AbortSignal;
  /** Called after each page and at the end. */
  readonly onProgress?: (progress: CopyProgress) => void;
  /** Events in the source, for progress (default: the source's `countAfter(START)`). */
  readonly countSource?: () => Promise<number>;
  /**
   * Largest append in bytes of JSON (default 512 KiB): a run of one stream is split below
   * EventStoreDB's maximum append size (1 MiB by default).
   */
  readonly maxAppendBytes?: number;
}

export interface CopyLogResult {
  /** `interrupted`: the signal stopped it; running it again resumes. */
  readonly status: 'completed' | 'interrupted';
  /** Events appended by this run. */
  readonly copied: number;
  /** Events the target already held when this run started. */
  readonly alreadyCopied: number;
  readonly total: number;
  /** The source event this run resumed after; null when it started from the beginning. */
  readonly resumedAfter: EventRef | null;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
}

/** The target holds events, and its last one is not an event of the source. */
export class TargetNotFromSourceError extends Error {
  override readonly name = 'TargetNotFromSourceError';
  constructor(readonly lastTargetEvent: EventRef) {
    super(
      `the target is not empty and was not filled from this log: its last event ` +
        `(${describeRef(lastTargetEvent)}) is not in the source. Copy into an empty store.`,
    );
  }
}

/** The target already holds other events at a revision the copy writes. */
export class CopyConflictError extends Error {
  override readonly name = 'CopyConflictError';
  constructor(
    readonly streamId: string,
    /** The first revision of the refused append. */
    readonly revision: number,
    /** The stream's last revision in the target, or `no_stream`. */
    readonly targetRevision: number | 'no_stream',
    override readonly cause?: unknown,
  ) {
    super(
      `stream ${streamId}: the target holds different events at revision ${revision} ` +
        `(its last revision there is ${String(targetRevision)}); the target was not filled ` +
        'from this log alone',
    );
  }
}

const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_MAX_APPEND_BYTES = 512 * 1024;

/**
 * Copies every event of `source`, in source log order, into `target`, one append per run of
 * consecutive events of one stream, each at the expected revision its first event had in the
 * source. Sequential on purpose: the target's log order then follows the source's, and the
 * target's last event tells where a later run resumes.
 *
 * Resuming: the target's last event must be an event of the source (same stream, revision and
 * id); the copy goes on right after it. Appending an event again is harmless (the same ids at the
 * same revision are answered as already written); other events in the way stop the copy.
 *
 * @throws TargetNotFromSourceError when the target holds events not copied from the source.
 * @throws CopyConflictError when a target stream holds different events at a revision.
 * @throws EventStoreUnavailableError when either store cannot be reached; run again to resume.
 */
export async function copyLog(
  source: EventStore,
  target: EventStore,
  options: CopyLogOptions = {},
): Promise<CopyLogResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxAppendBytes = options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES;
  const signal = options.signal;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const started = performance.now();
  const countSource =
    options.countSource ?? (() => source.countAfter(START, Number.MAX_SAFE_INTEGER));

  let total = await countSource();
  const resume = await findResumePoint(source, target);
  const alreadyCopied =
    resume === null
      ? 0
      : Math.max(0, total - (await source.countAfter(resume.position, Number.MAX_SAFE_INTEGER)));
  let copied = 0;

  // The rate counts from here: counting and finding where to resume are not copying.
  const copyStarted = performance.now();
  const rate = () => {
    const seconds = (performance.now() - copyStarted) / 1000;
    return seconds > 0 ? copied / seconds : 0;
  };
  const report = () => {
    const done = alreadyCopied + copied;
    total = Math.max(total, done);
    const eventsPerSecond = rate();
    options.onProgress?.({
      copied: done,
      total,
      eventsPerSecond,
      etaSeconds: eventsPerSecond > 0 ? (total - done) / eventsPerSecond : null,
    });
  };
  const result = (status: CopyLogResult['status']): CopyLogResult => {
    report();
    return {
      status,
      copied,
      alreadyCopied,
      total: Math.max(total, alreadyCopied + copied),
      resumedAfter: resume && toRef(resume),
      elapsedMs: performance.now() - started,
      eventsPerSecond: rate(),
    };
  };

  report();
  const readPage = (after: Position) => {
    const page = source.readAll({ after, limit: batchSize });
    // Read ahead while the previous page is appended; a failure surfaces when it is awaited.
    page.catch(() => undefined);
    return page;
  };
  let next = readPage(resume?.position ?? START);
  try {
    for (;;) {
      if (signal?.aborted) return result('interrupted');
      const page = await next;
      if (page.length === 0) break;
      next = readPage(page[page.length - 1].position);
      for (const run of streamRuns(page, maxAppendBytes)) {
        if (signal?.aborted) return result('interrupted');
        await appendRun(target, run);
        copied += run.length;
      }
      report();
    }
  } catch (err) {
    // A Ctrl-C in a terminal also stops an embedded PostgreSQL in the same process group: a read
    // that fails once the copy was asked to stop is the stop, not a failure. Every append is
    // atomic, so the target ends on a whole append either way.
    if (signal?.aborted) return result('interrupted');
    throw err;
  }
  return result('completed');
}

/**
 * The source event after which the copy goes on, or null for an empty target.
 * @throws TargetNotFromSourceError when the target's last event is not in the source.
 */
async function findResumePoint(
  source: EventStore,
  target: EventStore,
): Promise<RecordedEvent | null> {
  const last = await target.lastEvent();
  if (last === null) return null;
  const [inSource] = await source.readStream(last.streamId, {
    fromRevision: last.revision,
    limit: 1,
  });
  if (!inSource || inSource.revision !== last.revision || !sameId(inSource.id, last.id)) {
    throw new TargetNotFromSourceError(toRef(last));
  }
  return inSource;
}

/**
 * Splits a page into appends: maximal runs of consecutive events of one stream with consecutive
 * revisions, cut where the run's JSON would pass `maxBytes` (a single larger event stays alone
 * and the target decides).
 */
export function streamRuns(page: readonly RecordedEvent[], maxBytes: number): RecordedEvent[][] {
  const runs: RecordedEvent[][] = [];
  let run: RecordedEvent[] = [];
  let bytes = 0;
  for (const event of page) {
    const size = approximateBytes(event);
    const previous = run[run.length - 1];
    const continues =
      previous !== undefined &&
      previous.streamId === event.streamId &&
      previous.revision + 1 === event.revision &&
      bytes + size <= maxBytes;
    if (!continues && run.length > 0) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(event);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

function approximateBytes(event: RecordedEvent): number {
  return (
    Buffer.byteLength(JSON.stringify(event.data) ?? '') +
    Buffer.byteLength(JSON.stringify(event.metadata) ?? '') +
    2 * event.type.length +
    // The keys the EventStoreDB adapter adds to the metadata ($originalCreated and friends).
    128
  );
}

async function appendRun(target: EventStore, run: readonly RecordedEvent[]): Promise<void> {
  const first = run[0];
  const last = run[run.length - 1];
  const events = run.map((e): EventData => ({
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
    recordedAt: e.createdAt,
  }));
  try {
    const result = await target.append(
      first.streamId,
      events,
      first.revision === 0 ? 'no_stream' : first.revision - 1,
    );
    if (result.nextExpectedRevision !== last.revision) {
      // The target would have refused anything else; a store that does not is not one to copy to.
      throw new CopyConflictError(first.streamId, first.revision, result.nextExpectedRevision);
    }
  } catch (err) {
    if (err instanceof WrongExpectedVersionError) {
      throw new CopyConflictError(first.streamId, first.revision, err.actual, err);
    }
    throw err;
  }
}

export interface StreamMismatch {
  readonly streamId: string;
  readonly sourceCount: number;
  readonly targetCount: number;
  readonly reason: 'missing in target' | 'not in source' | 'event counts differ' | 'events differ';
}

export interface VerifyReport {
  /** Same events in every stream, and no stream on one side only. */
  readonly equal: boolean;
  readonly sourceEvents: number;
  readonly targetEvents: number;
  /** Streams in either store. */
  readonly streams: number;
  /** The first mismatching streams, at most `maxMismatches`. */
  readonly mismatches: StreamMismatch[];
  /** Mismatching streams left out of `mismatches`. */
  readonly moreMismatches: number;
}

export interface VerifyProgress {
  /** Events read so far from each store. */
  readonly sourceEvents: number;
  readonly targetEvents: number;
}

export interface VerifyCopyOptions {
  /** Events read per page (default 1000). */
  readonly batchSize?: number;
  /** Aborting stops the reads: verifyCopy then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: VerifyProgress) => void;
  /** Default 100. */
  readonly maxMismatches?: number;
}

interface StreamSummary {
  count: number;
  /** Hex sha256 chained over the stream's events in revision order. */
  digest: string;
}

/**
 * Compares two logs stream by stream: each store's log is read once, in pages, keeping per
 * stream an event count and a sha256 chained over each event's revision, id, type and the
 * canonical JSON of its data and metadata (keys sorted: PostgreSQL's jsonb does not keep key
 * order). Global order and commit times are not compared.
 */
export async function verifyCopy(
  source: EventStore,
  target: EventStore,
  options: VerifyCopyOptions = {},
): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 1000;
  const maxMismatches = options.maxMismatches ?? 100;
  // Either read failing stops the other one.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const read = { sourceEvents: 0, targetEvents: 0 };
  const summarize = async (store: EventStore, side: keyof VerifyProgress) => {
    try {
      return await summarizeLog(store, batchSize, signal, (n) => {
        read[side] = n;
        options.onProgress?.({ ...read });
      });
    } catch (err) {
      stop.abort(err);
      throw err;
    }
  };
  const [sourceStreams, targetStreams] = await Promise.all([
    summarize(source, 'sourceEvents'),
    summarize(target, 'targetEvents'),
  ]);

  const mismatches: StreamMismatch[] = [];
  let mismatched = 0;
  const note = (mismatch: StreamMismatch) => {
    mismatched++;
    if (mismatches.length < maxMismatches) mismatches.push(mismatch);
  };
  let sourceEvents = 0;
  for (const [streamId, s] of sourceStreams) {
    sourceEvents += s.count;
    const t = targetStreams.get(streamId);
    const targetCount = t?.count ?? 0;
    if (!t) note({ streamId, sourceCount: s.count, targetCount, reason: 'missing in target' });
    else if (t.count !== s.count) {
      note({ streamId, sourceCount: s.count, targetCount, reason: 'event counts differ' });
    } else if (t.digest !== s.digest) {
      note({ streamId, sourceCount: s.count, targetCount, reason: 'events differ' });
    }
  }
  let targetEvents = 0;
  let streams = sourceStreams.size;
  for (const [streamId, t] of targetStreams) {
    targetEvents += t.count;
    if (sourceStreams.has(streamId)) continue;
    streams++;
    note({ streamId, sourceCount: 0, targetCount: t.count, reason: 'not in source' });
  }
  return {
    equal: mismatched === 0,
    sourceEvents,
    targetEvents,
    streams,
    mismatches,
    moreMismatches: mismatched - mismatches.length,
  };
}

async function summarizeLog(
  store: EventStore,
  batchSize: number,
  signal: AbortSignal,
  onRead: (events: number) => void,
): Promise<Map<string, StreamSummary>> {
  const streams = new Map<string, StreamSummary>();
  let after = START;
  let events = 0;
  for (;;) {
    signal.throwIfAborted();
    const page = await store.readAll({ after, limit: batchSize });
    if (page.length === 0) return streams;
    for (const event of page) {
      let summary = streams.get(event.streamId);
      if (!summary) {
        summary = { count: 0, digest: '' };
        streams.set(event.streamId, summary);
      }
      summary.count++;
      // A chain rather than one running hash per stream: 64 characters of state per stream
      // instead of a hash object, for logs with millions of streams.
      summary.digest = createHash('sha256')
        .update(summary.digest)
        .update(eventFingerprint(event))
        .digest('hex');
    }
    events += page.length;
    after = page[page.length - 1].position;
    onRead(events);
  }
}

/** What must be equal for two recorded events to be the same event of the same stream. */
export function eventFingerprint(event: RecordedEvent): string {
  return canonicalJson([
    event.revision,
    event.id.toLowerCase(),
    event.type,
    event.data,
    event.metadata,
  ]);
}

/**
 * JSON with the keys of every object sorted, recursively; otherwise as `JSON.stringify` (an
 * undefined property is left out, an undefined array item is null, `toJSON` is honoured).
 */
export function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'toJSON' in value) {
    const toJSON = value.toJSON;
    if (typeof toJSON === 'function') return canonicalJson(toJSON.call(value));
  }
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown) => (isSkipped(item) ? 'null' : canonicalJson(item))).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((key) => !isSkipped(record[key]))
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${members.join(',')}}`;
  }
  return isSkipped(value) ? 'null' : JSON.stringify(value);
}

function isSkipped(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function toRef(event: RecordedEvent): EventRef {
  return { streamId: event.streamId, revision: event.revision, id: event.id };
}

export function describeRef(ref: EventRef): string {
  return `${ref.streamId}@${ref.revision}, id ${ref.id}`;
}
