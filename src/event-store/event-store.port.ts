/**
 * The event store port: the only way the write side persists anything, and the only source the
 * projections read. Two adapters implement it (the PostgreSQL log, the embedded default, and
 * EventStoreDB in production); both must pass `test/event-store.contract.ts`.
 */

/** Who caused an event: a user, an administrator, or the system itself. */
export type Actor =
  | { readonly kind: 'user'; readonly id: string }
  | { readonly kind: 'admin'; readonly id: string }
  | { readonly kind: 'system'; readonly id: string };

/** Carried by every event: who did it, on whose behalf, from where. */
export interface EventMetadata {
  readonly actor: Actor;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly ip?: string;
  readonly device?: string;
  /** When the command was decided, ISO-8601. The store also records its own commit time. */
  readonly at?: string;
}

/** An event to append. `id` is a UUID chosen by the caller: appending it again is a no-op. */
export interface EventData<T = unknown> {
  readonly id: string;
  /** Frozen PascalCase past-tense name, e.g. `MessageSent`. */
  readonly type: string;
  readonly data: T;
  readonly metadata: EventMetadata;
  /**
   * Only for copies between stores (npm run admin -- copy-to-eventstoredb, import): the time the
   * source store recorded, kept as the copy's `createdAt`. The EventStoreDB adapter keeps it
   * (under the metadata key `$originalCreated`); the PostgreSQL log keeps it only through its
   * import path (`PostgresEventStore.appendImported`), and records its own commit time on append.
   */
  readonly recordedAt?: Date;
}

/**
 * A position in the global log. Ordered by (commit, prepare), like EventStoreDB's `$all`
 * positions. In the PostgreSQL log `commit` is the inserting transaction id and `prepare` the
 * insert sequence; callers treat it as opaque and only compare or store it.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The earliest of `positions`; START when there are none. */
export function minPosition(positions: Iterable<Position>): Position {
  let min: Position | null = null;
  for (const p of positions) if (min === null || comparePositions(p, min) < 0) min = p;
  return min ?? START;
}

/** The latest of `positions`; START when there are none. */
export function maxPosition(positions: Iterable<Position>): Position {
  let max: Position = START;
  for (const p of positions) if (comparePositions(p, max) > 0) max = p;
  return max;
}

export interface RecordedEvent<T = unknown> {
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  /** 0-based revision of the event within its stream. */
  readonly revision: number;
  readonly position: Position;
  readonly data: T;
  readonly metadata: EventMetadata;
  /** Commit time as recorded by the store. */
  readonly createdAt: Date;
}

/**
 * What the stream must look like for an append to succeed: `no_stream` (it has no events),
 * `stream_exists` (at least one), `any`, or the revision of its last event.
 */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | number;

export interface AppendResult {
  /** Revision of the last event of the stream after the append. */
  readonly nextExpectedRevision: number;
  /** Position of the last appended event. */
  readonly position: Position;
  /**
   * True when every event id of the append was already in this stream (a retried append):
   * nothing was written and `nextExpectedRevision` is the revision of the last of those events.
   */
  readonly alreadyWritten: boolean;
}

export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, or `no_stream`. */
    readonly actual: number | 'no_stream',
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

/** An event id of the append already belongs to a different stream or to a different append. */
export class DuplicateEventIdError extends Error {
  override readonly name = 'DuplicateEventIdError';
  constructor(
    readonly streamId: string,
    readonly eventIds: readonly string[],
  ) {
    super(`stream ${streamId}: event ids already used elsewhere: ${eventIds.join(', ')}`);
  }
}

/**
 * The store cannot be reached (connection lost, no leader, a deadline passed). For an append the
 * outcome is unknown: it may have been written. Retrying the same command is safe, since event
 * ids make a repeated append a no-op. Callers answer 503 (code 50305).
 */
export class EventStoreUnavailableError extends Error {
  override readonly name = 'EventStoreUnavailableError';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export interface ReadStreamOptions {
  /** First revision to read (forwards) or last revision to read (backwards). */
  readonly fromRevision?: number;
  readonly direction?: 'forwards' | 'backwards';
  readonly limit?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Default: from the start. */
  readonly after?: Position;
  readonly limit: number;
}

export interface SubscribeAllOptions {
  /** Exclusive: events strictly after this position. Default: from the start. */
  readonly after?: Position;
  /** Largest batch handed out at once. */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

export interface ReadRangeOptions {
  /** Exclusive. */
  readonly after: Position;
  /**
   * Inclusive, and at or before a {@link EventStore.headPosition} this store returned: every
   * event up to it has committed, so the range can be read without the visibility rule.
   */
  readonly until: Position;
  /** Most events of the log a batch passes (whether their content is read or not). */
  readonly limit: number;
  /**
   * Only events of these types are read whole; the others come as {@link skippedEvent}s, their
   * position only. Default: every event whole.
   */
  readonly types?: ReadonlySet<string>;
  /** False: the events' metadata is not read ({@link NO_METADATA} instead). Default true. */
  readonly metadata?: boolean;
}

/** A batch of {@link EventStore.readRange}. */
export interface RangeBatch {
  /** The events passed, in position order; those of other types as skipped ones. */
  readonly events: RecordedEvent[];
  /** Where the batch ends: its last event's position, or `until` once the range is read. */
  readonly to: Position;
}

/** The type of a {@link skippedEvent}: no event has it (stream and type names are never empty). */
export const SKIPPED_EVENT_TYPE = '';

/** Metadata of an event read without it ({@link ReadRangeOptions.metadata}). */
export const NO_METADATA: EventMetadata = Object.freeze({
  actor: Object.freeze({ kind: 'system', id: '' }),
  correlationId: '',
});

/** An event of the log passed by a range read whose content was not read: its position only. */
export function skippedEvent(position: Position): RecordedEvent {
  return {
    id: '',
    type: SKIPPED_EVENT_TYPE,
    streamId: '',
    revision: -1,
    position,
    data: null,
    metadata: NO_METADATA,
    createdAt: new Date(0),
  };
}

export abstract class EventStore {
  /** Which adapter this is, for health and logs. */
  abstract readonly adapter: 'postgres' | 'eventstoredb';

  /**
   * Appends events atomically to one stream if it is at `expected`.
   * @throws WrongExpectedVersionError when the stream is elsewhere.
   * @throws DuplicateEventIdError when an event id is already used by another stream.
   */
  abstract append(
    streamId: string,
    events: readonly EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult>;

  /** Events of one stream in revision order (or reverse); an empty list for a missing stream. */
  abstract readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /**
   * Events of every stream in position order. Never skips an event: an event that commits
   * late is handed out after those that committed before it, never left behind.
   */
  abstract readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;

  /**
   * Catch up from `after`, then follow new events as they commit. Yields non-empty batches in
   * position order; the consumer pulls, so a slow consumer slows only itself. Ends when the
   * signal aborts. A batch (its events included) may be handed to several subscriptions of one
   * store: consumers must not change it.
   */
  abstract subscribeAll(options: SubscribeAllOptions): AsyncIterable<RecordedEvent[]>;

  /**
   * A bounded part of the log, (after, until], a batch at a time: a copy's bulk load
   * (ProjectionRunner.catchUp). This default reads {@link readAll} and leaves out what was not
   * asked for; an adapter may read less (the PostgreSQL log reads only the asked columns and
   * types, without the visibility rule, which `until` makes needless).
   */
  async readRange(options: ReadRangeOptions): Promise<RangeBatch> {
    const read = await this.readAll({ after: options.after, limit: options.limit });
    const within = read.filter((e) => comparePositions(e.position, options.until) <= 0);
    const exhausted = within.length < read.length || read.length < options.limit;
    const types = options.types;
    const keepMetadata = options.metadata !== false;
    const events = within.map((e) =>
      types && !types.has(e.type)
        ? skippedEvent(e.position)
        : keepMetadata
          ? e
          : { ...e, metadata: NO_METADATA },
    );
    const to =
      exhausted || events.length === 0 ? options.until : events[events.length - 1].position;
    return { events, to };
  }

  /** Position of the last event readers can see, or null for an empty log. */
  abstract headPosition(): Promise<Position | null>;

  /** The last event readers can see, or null for an empty log. */
  abstract lastEvent(): Promise<RecordedEvent | null>;

  /**
   * Number of events after a position that readers can see (lag of a checkpoint), counting no
   * further than `atMost`.
   */
  abstract countAfter(after: Position, atMost?: number): Promise<number>;

  abstract close(): Promise<void>;
}
