import { Pool } from 'pg';
import {
  AppendResult,
  DuplicateEventIdError,
  EventData,
  EventMetadata,
  EventStore,
  EventStoreUnavailableError,
  ExpectedRevision,
  NO_METADATA,
  Position,
  RangeBatch,
  ReadAllOptions,
  ReadRangeOptions,
  ReadStreamOptions,
  RecordedEvent,
  skippedEvent,
  START,
  SubscribeAllOptions,
  WrongExpectedVersionError,
} from '../event-store.port';
import { prepared } from '../../database/prepared';
import { validateAppend } from '../validate-append';
import { AppendBatcher } from './append-batcher';
import { AppendNotifier } from './append-notifier';

/** One stream's append, as es_append_batch takes several in one call. */
export interface AppendRequest {
  readonly streamId: string;
  readonly events: readonly EventData[];
  readonly expected: ExpectedRevision;
}

interface EventRow {
  global_position: string;
  transaction_id: string;
  stream_id: string;
  revision: string;
  event_id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  created_at: Date;
}

export interface PostgresEventStoreOptions {
  /** Transactions that may append at once; further appends queue and go together. */
  readonly maxConcurrentBatches?: number;
  readonly maxBatchSize?: number;
  /** Fallback poll interval for subscriptions when no notification arrives. */
  readonly pollIntervalMs?: number;
}

/**
 * A connection lost under a statement (a database restart, failover, pg_terminate_backend): the
 * statement is retried on a fresh connection, after a short pause that lets the pool notice and
 * drop its other dead connections. Safe for reads, and for appends too, since event ids make a
 * repeated append a no-op that reports the events as already written.
 */
function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code !== 'string') return /Connection terminated/.test(e?.message ?? '');
  return (
    e.code === '57P01' ||
    e.code.startsWith('08') ||
    e.code === 'ECONNRESET' ||
    e.code === 'ECONNREFUSED' ||
    e.code === 'EPIPE'
  );
}

const RECONNECT_PAUSES_MS = [10, 50, 250];

async function retryOnConnectionLoss<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConnectionLoss(err)) throw err;
      if (attempt >= RECONNECT_PAUSES_MS.length) {
        throw new EventStoreUnavailableError(
          `PostgreSQL event log: ${(err as Error).message ?? String(err)}`,
          err,
        );
      }
      await new Promise((r) => setTimeout(r, RECONNECT_PAUSES_MS[attempt]));
    }
  }
}

const EXPECTED_CODES = { no_stream: -1, any: -2, stream_exists: -3 } as const;

// The visibility rule (migrations/…-event-log.ts): only events below the oldest append still
// running are handed out, so an event that commits late can never be passed by a reader.
const READ_ALL_SQL = `
  SELECT global_position, transaction_id, stream_id, revision, event_id, type, data, metadata,
         created_at
    FROM es_read_all($1::text::xid8, $2::bigint, $3)`;

// readRange: `data` is null for an event of another type than asked (never otherwise: the column
// is NOT NULL), and so is `metadata` when it is not asked for.
const READ_RANGE_SQL = `
  SELECT global_position, transaction_id, stream_id, revision, event_id, type, created_at,
         CASE WHEN $5::text[] IS NULL OR type = ANY ($5::text[]) THEN data END AS data,
         CASE WHEN $6::boolean AND ($5::text[] IS NULL OR type = ANY ($5::text[]))
              THEN metadata END AS metadata
    FROM es_events
   WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
     AND (transaction_id, global_position) <= ($3::text::xid8, $4::bigint)
   ORDER BY transaction_id, global_position
   LIMIT $7`;

/** The PostgreSQL event log: the embedded default adapter of {@link EventStore}. */
export class PostgresEventStore extends EventStore {
  readonly adapter = 'postgres' as const;
  private readonly batcher: AppendBatcher<AppendRequest, AppendResult>;
  private readonly notifier: AppendNotifier;
  /** The latest subscription read, for the others at the same position (readTail). */
  private tailRead: TailRead | null = null;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly pool: Pool,
    options: PostgresEventStoreOptions = {},
  ) {
    super();
    this.batcher = new AppendBatcher(
      (requests) => this.appendBatch(requests),
      options.maxConcurrentBatches ?? 2,
      options.maxBatchSize ?? 256,
    );
    this.notifier = new AppendNotifier(pool, 'es_appended');
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  async append(
    streamId: string,
    events: readonly EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    validateAppend(streamId, events, expected);
    return this.batcher.submit({ streamId, events, expected });
  }

  /**
   * The import path (`npm run admin -- import`, into an empty log): appends like
   * {@link append}, and each event that carries a `recordedAt` (its source store's commit time,
   * from the export) keeps it as its `created_at`, so audit times, time travel and exports by
   * time read an imported log as they read the original. {@link append} never does: a live
   * event's time is always the database's.
   *
   * The append itself is es_append_batch's, so positions are assigned in commit order as for
   * any append; the times are set in the same transaction, before it commits, so no reader ever
   * sees an imported event with another time. Times may go backwards against positions: they
   * are the source's. Not batched with other appends ({@link appendImportedAll} batches an
   * import's own).
   */
  async appendImported(
    streamId: string,
    events: readonly EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    validateAppend(streamId, events, expected);
    const request: AppendRequest = { streamId, events, expected };
    const rows = (await this.importTransaction([request], false))!;
    const [settled] = settle([request], rows);
    if (settled.status === 'rejected') throw settled.reason;
    return settled.value;
  }

  /**
   * {@link appendImported} of several appends (streams' runs, in the import file's order) in one
   * transaction and one es_append_batch call: positions follow their order. All of them or none:
   * when any cannot be written as asked (its expected revision, an id already used) nothing is,
   * and this returns false; the caller then appends them one at a time to learn which and why.
   * True as well when the connection was lost as the transaction committed and the retry finds
   * every one of them written.
   * An import appends a few events per stream at a time, so this saves a transaction and its
   * WAL flush per run.
   */
  async appendImportedAll(requests: readonly AppendRequest[]): Promise<boolean> {
    for (const r of requests) validateAppend(r.streamId, r.events, r.expected);
    return (await this.importTransaction(requests, true)) !== null;
  }

  /**
   * The transaction of the import path: the appends, the recorded times of the events written,
   * commit. `whole`: roll back and return null unless every append was written.
   */
  private async importTransaction(
    requests: readonly AppendRequest[],
    whole: boolean,
  ): Promise<AppendRow[] | null> {
    // A connection lost before COMMIT rolls the transaction back; lost during it, the retry
    // finds the events written (result code 2) and says so.
    const rows = await retryOnConnectionLoss(async () => {
      const client = await this.pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const { rows: result } = await client.query<AppendRow>(APPEND_SQL, appendParams(requests));
        if (whole && result.some((r) => r.result_code !== 0)) {
          await client.query('ROLLBACK');
          // Every one already written (same ids, same streams): this is the retry of a commit
          // whose answer the lost connection took. Else nothing was written.
          return result.every((r) => r.result_code === 2) ? result : null;
        }
        // Only the events written: an id that belongs to another stream (code 3) is not this
        // append's to retime.
        const written = requests.flatMap((r, i) => (result[i].result_code === 0 ? r.events : []));
        const times = written.map((e) => e.recordedAt?.toISOString() ?? null);
        if (times.some((t) => t !== null)) {
          await client.query(
            `UPDATE es_events e SET created_at = t.at
               FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at)
              WHERE e.event_id = t.id AND t.at IS NOT NULL`,
            [written.map((e) => e.id), times],
          );
        }
        await client.query('COMMIT');
        return result;
      } catch (err) {
        broken = err;
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        // A connection that failed under a statement is not given back to the pool.
        client.release(broken !== undefined && isConnectionLoss(broken) ? true : undefined);
      }
    }).catch((err: unknown) => {
      this.wakeSubscribers();
      throw err;
    });
    if (!rows || rows.some((r) => r.result_code !== 0)) this.wakeSubscribers();
    return rows;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const limit = options.limit ?? 2 ** 31 - 1;
    const from = options.fromRevision ?? (backwards ? Number.MAX_SAFE_INTEGER : 0);
    const { rows } = await retryOnConnectionLoss(() =>
      this.pool.query<EventRow>({
        ...prepared(`SELECT global_position, transaction_id, stream_id, revision, event_id, type,
                            data, metadata, created_at
                       FROM es_events
                      WHERE stream_id = $1 AND revision ${backwards ? '<=' : '>='} $2
                      ORDER BY revision ${backwards ? 'DESC' : 'ASC'}
                      LIMIT $3`),
        values: [streamId, from, limit],
      }),
    );
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const after = options.after ?? START;
    const { rows } = await retryOnConnectionLoss(() =>
      this.pool.query<EventRow>({
        ...prepared(READ_ALL_SQL),
        values: [after.commit.toString(), after.prepare.toString(), options.limit],
      }),
    );
    return rows.map(toRecorded);
  }

  /**
   * {@link EventStore.readRange} on the table: every event up to `until` has committed (it is at
   * or before a head read under the visibility rule), so a plain index scan of the range reads
   * them, without es_read_all's horizon. Data and metadata (jsonb, the costly columns to send and
   * to parse) only of the events asked for.
   */
  override async readRange(options: ReadRangeOptions): Promise<RangeBatch> {
    const types = options.types ? [...options.types] : null;
    const { rows } = await retryOnConnectionLoss(() =>
      this.pool.query<Omit<EventRow, 'data' | 'metadata'> & { data: unknown; metadata: unknown }>(
        READ_RANGE_SQL,
        [
          options.after.commit.toString(),
          options.after.prepare.toString(),
          options.until.commit.toString(),
          options.until.prepare.toString(),
          types,
          options.metadata !== false,
          options.limit,
        ],
      ),
    );
    const events = rows.map((row) =>
      row.data === null
        ? skippedEvent({ commit: BigInt(row.transaction_id), prepare: BigInt(row.global_position) })
        : toRecorded({ ...row, metadata: (row.metadata ?? NO_METADATA) as EventMetadata }),
    );
    const to = events.length < options.limit ? options.until : events[events.length - 1].position;
    return { events, to };
  }

  async *subscribeAll(options: SubscribeAllOptions): AsyncIterable<RecordedEvent[]> {
    const batchSize = options.batchSize ?? 1000;
    const signal = options.signal;
    let after = options.after ?? START;
    this.notifier.retain();
    try {
      while (!signal?.aborted) {
        const seen = this.notifier.generation;
        const { batch, full } = await this.readTail(after, batchSize, seen);
        if (batch.length > 0) {
          after = batch[batch.length - 1].position;
          yield batch;
        }
        // A full batch: more may be waiting. Otherwise the read reached the head as it stood when
        // the read began: whatever it did not see commits later, or sits behind an older append
        // still running, which notifies when it commits (a failed one is followed by a
        // notification too, appendBatch). Either notifies after `seen`, so the next notification
        // (maybe one that came while the batch was handed out), or the poll, is the time to look
        // again: a read that would find nothing is not made.
        if (full) continue;
        await this.notifier.waitForChange(seen, this.pollIntervalMs, signal);
      }
    } finally {
      this.notifier.release();
    }
  }

  /**
   * A subscription's read of the log after `after`, shared with the other subscriptions of this
   * store that read after the same position while no notification came (same `generation`): the
   * projection runner and the realtime follower of a server wake on the same notification at the
   * same position, and one read (with its horizon, which scans the lock table) serves both. A
   * shared result is what a read of one's own would have found a moment earlier: whatever it lacks
   * committed later, and notifies. Only a read begun moments ago is shared (TAIL_SHARE_MS). `full`: the read stopped at a limit, so more may be waiting.
   */
  private async readTail(
    after: Position,
    limit: number,
    generation: number,
  ): Promise<{ batch: RecordedEvent[]; full: boolean }> {
    let read = this.tailRead;
    const now = performance.now();
    if (
      !read ||
      now - read.startedAt > Math.min(TAIL_SHARE_MS, this.pollIntervalMs / 2) ||
      read.generation !== generation ||
      read.after.commit !== after.commit ||
      read.after.prepare !== after.prepare
    ) {
      const entry: TailRead = {
        after,
        limit,
        generation,
        startedAt: now,
        events: this.readAll({ after, limit }),
      };
      this.tailRead = read = entry;
      entry.events.catch(() => {
        if (this.tailRead === entry) this.tailRead = null;
      });
    }
    const events = await read.events;
    if (read.limit < limit && events.length >= read.limit) {
      // Cut short by the other subscriber's smaller limit: a batch of its own, full size, so
      // that a subscriber catching up keeps reading ahead by whole batches.
      const own = await this.readAll({ after, limit });
      return { batch: own, full: own.length >= limit };
    }
    return events.length > limit
      ? { batch: events.slice(0, limit), full: true }
      : { batch: events, full: events.length >= limit };
  }

  async headPosition(): Promise<Position | null> {
    const horizon = await this.visibleHorizon();
    const { rows } = await this.pool.query<{ transaction_id: string; global_position: string }>(
      `SELECT transaction_id, global_position FROM es_events
        WHERE transaction_id < $1::text::xid8
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      [horizon],
    );
    if (rows.length === 0) return null;
    return { commit: BigInt(rows[0].transaction_id), prepare: BigInt(rows[0].global_position) };
  }

  async lastEvent(): Promise<RecordedEvent | null> {
    const horizon = await this.visibleHorizon();
    const { rows } = await this.pool.query<EventRow>(
      `SELECT global_position, transaction_id, stream_id, revision, event_id, type, data,
              metadata, created_at
         FROM es_events
        WHERE transaction_id < $1::text::xid8
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      [horizon],
    );
    return rows.length ? toRecorded(rows[0]) : null;
  }

  async countAfter(after: Position, atMost = 1_000_000): Promise<number> {
    // Bounded, so a health check on a far-behind projection stays cheap.
    const horizon = await this.visibleHorizon();
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (
         SELECT 1 FROM es_events
          WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
            AND transaction_id < $4::text::xid8
          LIMIT $3) AS lag`,
      [after.commit.toString(), after.prepare.toString(), atMost, horizon],
    );
    return Number(rows[0].n);
  }

  async close(): Promise<void> {
    await this.notifier.close();
  }

  /** Taken in its own statement, before the read that uses it (see es_visible_horizon). */
  private async visibleHorizon(): Promise<string> {
    const { rows } = await this.pool.query<{ h: string }>('SELECT es_visible_horizon()::text AS h');
    return rows[0].h;
  }

  /**
   * Wakes every subscriber: a transaction that held back committed events of later ones (see
   * es_visible_horizon) ended without notifying (a rollback, or a batch that wrote nothing).
   */
  private wakeSubscribers(): void {
    this.pool.query(`SELECT pg_notify('es_appended', '')`).catch(() => undefined);
  }

  private async appendBatch(
    requests: readonly AppendRequest[],
  ): Promise<PromiseSettledResult<AppendResult>[]> {
    try {
      return await this.runAppendFunction(requests);
    } catch (err) {
      if (requests.length === 1) throw err;
      // One request broke the whole batch (say, two concurrent retries of the same ids racing on
      // the unique index): run each alone so only the culprit fails, a few at a time so the
      // retry does not take every connection of the pool.
      const results: PromiseSettledResult<AppendResult>[] = new Array(requests.length);
      let next = 0;
      const worker = async () => {
        while (next < requests.length) {
          const i = next++;
          results[i] = await this.runAppendFunction([requests[i]]).then(
            (res) => res[0],
            (reason: unknown): PromiseRejectedResult => ({ status: 'rejected', reason }),
          );
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, requests.length) }, worker));
      return results;
    }
  }

  private async runAppendFunction(
    requests: readonly AppendRequest[],
  ): Promise<PromiseSettledResult<AppendResult>[]> {
    // A single statement runs as its own transaction: one round trip, one commit.
    const { rows } = await retryOnConnectionLoss(() =>
      this.pool.query<AppendRow>(APPEND_SQL, appendParams(requests)),
    ).catch((err: unknown) => {
      this.wakeSubscribers();
      throw err;
    });
    // A batch that wrote nothing (every append refused, or already written) still held back
    // the visible horizon while it ran, and notifies nobody: wake the subscribers here.
    if (!rows.some((r) => r.result_code === 0)) this.wakeSubscribers();
    return settle(requests, rows);
  }
}

/**
 * How long a subscription's read may serve others (readTail), and at most half the poll interval:
 * the poll, the fallback for a lost notification, must still read the log.
 */
const TAIL_SHARE_MS = 50;

/** A subscription's read of the log, shared (PostgresEventStore.readTail). */
interface TailRead {
  readonly after: Position;
  readonly limit: number;
  /** The notifier's generation when the read began. */
  readonly generation: number;
  readonly startedAt: number;
  readonly events: Promise<RecordedEvent[]>;
}

const APPEND_SQL = 'SELECT * FROM es_append_batch($1, $2, $3, $4, $5, $6, $7)';

/** A result row of es_append_batch, one per request (migrations/…-event-log.ts). */
interface AppendRow {
  result_code: number;
  revision: string | null;
  last_position: string | null;
  commit_position: string;
}

/** es_append_batch's parameters for a batch of requests, their events flattened in order. */
function appendParams(requests: readonly AppendRequest[]): unknown[] {
  const streams: string[] = [];
  const expected: number[] = [];
  const counts: number[] = [];
  const ids: string[] = [];
  const types: string[] = [];
  const data: string[] = [];
  const metadata: string[] = [];
  for (const r of requests) {
    streams.push(r.streamId);
    expected.push(typeof r.expected === 'number' ? r.expected : EXPECTED_CODES[r.expected]);
    counts.push(r.events.length);
    for (const e of r.events) {
      ids.push(e.id);
      types.push(e.type);
      data.push(JSON.stringify(e.data));
      metadata.push(JSON.stringify(e.metadata));
    }
  }
  return [streams, expected, counts, ids, types, data, metadata];
}

/** Each request's outcome from its result row. */
function settle(
  requests: readonly AppendRequest[],
  rows: readonly AppendRow[],
): PromiseSettledResult<AppendResult>[] {
  return requests.map((r, i): PromiseSettledResult<AppendResult> => {
    const row = rows[i];
    const revision = row.revision === null ? -1 : Number(row.revision);
    switch (row.result_code) {
      case 0:
        return {
          status: 'fulfilled',
          value: {
            nextExpectedRevision: revision,
            position: {
              commit: BigInt(row.commit_position),
              prepare: BigInt(row.last_position!),
            },
            alreadyWritten: false,
          },
        };
      case 1:
        return {
          status: 'rejected',
          reason: new WrongExpectedVersionError(
            r.streamId,
            r.expected,
            revision < 0 ? 'no_stream' : revision,
          ),
        };
      case 2:
        return {
          status: 'fulfilled',
          value: { nextExpectedRevision: revision, position: START, alreadyWritten: true },
        };
      default:
        return {
          status: 'rejected',
          reason: new DuplicateEventIdError(
            r.streamId,
            r.events.map((e) => e.id),
          ),
        };
    }
  });
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    streamId: row.stream_id,
    revision: Number(row.revision),
    position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.global_position) },
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}
