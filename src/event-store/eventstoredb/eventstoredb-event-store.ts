import {
  BACKWARDS,
  END,
  ErrorType,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  isCommandError,
  jsonEvent,
  START as ESDB_START,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  type AppendExpectedRevision,
  type JSONEventType,
  type JSONType,
  type Position as EsdbPosition,
  type RecordedEvent as EsdbRecordedEvent,
  type ResolvedEvent,
} from '@eventstore/db-client';
import type { Readable } from 'node:stream';
import {
  AppendResult,
  comparePositions,
  EventData,
  EventMetadata,
  EventStore,
  EventStoreUnavailableError,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  START,
  SubscribeAllOptions,
  WrongExpectedVersionError,
} from '../event-store.port';
import { validateAppend } from '../validate-append';

export interface EventStoreDbLogger {
  warn(obj: object, msg: string): void;
}

export interface EventStoreDbOptions {
  /** First pause before a dropped subscription is resumed; doubles while it keeps failing. */
  readonly resubscribeMinMs?: number;
  /** Longest pause between attempts to resume a dropped subscription. */
  readonly resubscribeMaxMs?: number;
  readonly logger?: EventStoreDbLogger;
}

/** Page size of the `$all` reads that skip the server's own events. */
const ALL_PAGE = 512;

/**
 * EventStoreDB (or KurrentDB, same protocol) through `@eventstore/db-client`: the production
 * adapter of {@link EventStore}. `docs/eventstoredb.md` maps each method to the server's
 * operations; `test/event-store.contract.ts` holds what both adapters guarantee.
 *
 * - Positions are `$all` positions (commit, prepare), ordered as the port requires.
 * - The server's own events (types and streams starting with `$`) never reach a caller.
 * - Metadata is the event's JSON metadata; the correlation and causation ids are written under
 *   EventStoreDB's `$correlationId` / `$causationId` keys, so its own tools link them. A copied
 *   event keeps its original time under `$originalCreated` (EventData.recordedAt).
 * - A lost connection surfaces as {@link EventStoreUnavailableError}; a subscription resumes by
 *   itself from the last event it handed out.
 */
export class EventStoreDbEventStore extends EventStore {
  readonly adapter = 'eventstoredb' as const;
  /** The highest `$all` position this instance has written or read: see {@link append}. */
  private seen: Position = START;
  private closing: Promise<void> | null = null;
  private readonly resubscribeMinMs: number;
  private readonly resubscribeMaxMs: number;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: EventStoreDbOptions = {},
  ) {
    super();
    this.resubscribeMinMs = options.resubscribeMinMs ?? 100;
    this.resubscribeMaxMs = options.resubscribeMaxMs ?? 5_000;
  }

  static fromConnectionString(
    connectionString: string,
    options: EventStoreDbOptions = {},
  ): EventStoreDbEventStore {
    return new EventStoreDbEventStore(
      EventStoreDBClient.connectionString(connectionString),
      options,
    );
  }

  /**
   * EventStoreDB answers a repeated append (the same event ids at the expected place, or recently
   * written to the stream under `any`) with success and the original write's revision and
   * position, without saying that it wrote nothing. A new write lands after every event that
   * already existed, so a position no later than one this instance had already seen proves a
   * repeat. Otherwise the stored last event is read back and compared with the one proposed
   * (data, correlation id, decision time): a repeat decided again elsewhere (another node, after
   * a lost answer) differs, and is reported as already written so the caller answers from what
   * was stored. That read is the price of a new write on this adapter.
   */
  async append(
    streamId: string,
    events: readonly EventData[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    validateAppend(streamId, events, expected);
    const before = this.seen;
    let result: { nextExpectedRevision: bigint; position?: EsdbPosition };
    try {
      result = await this.client.appendToStream(streamId, events.map(toProposed), {
        expectedRevision: toExpected(expected),
      });
    } catch (err) {
      if (err instanceof EsdbWrongExpectedVersionError) {
        const actual = err.actualVersion;
        throw new WrongExpectedVersionError(
          streamId,
          expected,
          typeof actual === 'bigint' ? Number(actual) : 'no_stream',
        );
      }
      throw unavailableOr(err, `append to ${streamId}`);
    }
    const nextExpectedRevision = Number(result.nextExpectedRevision);
    if (!result.position) {
      // Servers before 21.10 answer a repeated append with no position at all.
      return { nextExpectedRevision, position: START, alreadyWritten: true };
    }
    const position = toPosition(result.position);
    const repeated =
      comparePositions(position, before) <= 0 ||
      !(await this.holds(streamId, nextExpectedRevision, events[events.length - 1]));
    if (repeated) return { nextExpectedRevision, position, alreadyWritten: true };
    this.see(position);
    return { nextExpectedRevision, position, alreadyWritten: false };
  }

  /** Whether the event stored at `revision` is `proposed` itself, not an earlier decision. */
  private async holds(streamId: string, revision: number, proposed: EventData): Promise<boolean> {
    const [stored] = await this.readStream(streamId, { fromRevision: revision, limit: 1 });
    return (
      stored !== undefined &&
      stored.id === proposed.id &&
      stored.type === proposed.type &&
      JSON.stringify(stored.data) === JSON.stringify(proposed.data) &&
      stored.metadata.correlationId === proposed.metadata.correlationId &&
      stored.metadata.at === proposed.metadata.at
    );
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (limit <= 0) return [];
    const from = options.fromRevision;
    try {
      const read = this.client.readStream(streamId, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: from === undefined ? (backwards ? END : ESDB_START) : BigInt(from),
        maxCount: limit,
      });
      const out: RecordedEvent[] = [];
      for await (const resolved of read) {
        if (resolved.event) out.push(toRecorded(resolved.event));
      }
      return out;
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw unavailableOr(err, `read of ${streamId}`);
    }
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    let after = options.after ?? START;
    while (out.length < options.limit) {
      const page = await this.readAllPage(after, 'forwards', ALL_PAGE);
      for (const e of page.events) {
        if (out.length === options.limit) break;
        out.push(e);
      }
      if (page.atEnd || out.length === options.limit) break;
      after = page.lastRaw!;
    }
    if (out.length) this.see(out[out.length - 1].position);
    return out;
  }

  async *subscribeAll(options: SubscribeAllOptions): AsyncIterable<RecordedEvent[]> {
    const batchSize = options.batchSize ?? 1000;
    const signal = options.signal;
    let after = options.after ?? START;
    let pause = this.resubscribeMinMs;
    while (!signal?.aborted) {
      const subscription = this.client.subscribeToAll(
        {
          fromPosition: isStart(after) ? ESDB_START : after,
          // Filtered on the server, so a quiet log of the server's own events costs no traffic.
          filter: excludeSystemEvents(),
        },
        // Room for a whole batch, so catching up hands out full batches.
        { highWaterMark: batchSize },
      );
      // An error between the end of our reading and the cancellation must not go unheard (an
      // 'error' without a listener would end the process); batchesOf reports those in between.
      subscription.on('error', () => undefined);
      try {
        for await (const raw of batchesOf<ResolvedEvent>(subscription, batchSize, signal)) {
          pause = this.resubscribeMinMs;
          const batch: RecordedEvent[] = [];
          for (const r of raw) {
            if (!r.event || isSystem(r.event)) continue;
            const e = toRecorded(r.event);
            if (comparePositions(e.position, after) > 0) batch.push(e);
          }
          if (batch.length === 0) continue;
          after = batch[batch.length - 1].position;
          this.see(after);
          yield batch;
        }
      } catch (err) {
        if (signal?.aborted) return;
        this.options.logger?.warn(
          { err: describe(err), after: `${after.commit}/${after.prepare}`, retryInMs: pause },
          'subscription to $all dropped; resuming after the last event handed out',
        );
        await sleep(pause, signal);
        pause = Math.min(pause * 2, this.resubscribeMaxMs);
      } finally {
        await subscription.unsubscribe().catch(() => undefined);
      }
    }
  }

  async headPosition(): Promise<Position | null> {
    return (await this.lastEvent())?.position ?? null;
  }

  async lastEvent(): Promise<RecordedEvent | null> {
    // The tail of `$all` may be the server's own events (statistics, epochs): page back past them.
    let before: Position | null = null;
    for (;;) {
      const page = await this.readAllPage(before, 'backwards', 64);
      if (page.events.length) return page.events[0];
      if (page.atEnd) return null;
      before = page.lastRaw!;
    }
  }

  async countAfter(after: Position, atMost = 1_000_000): Promise<number> {
    let n = 0;
    let from = after;
    while (n < atMost) {
      const page = await this.readAllPage(from, 'forwards', Math.min(ALL_PAGE * 8, atMost - n));
      n += page.events.length;
      if (page.atEnd) break;
      from = page.lastRaw!;
    }
    return Math.min(n, atMost);
  }

  /**
   * Reads `$all` once, probing whether the server answers: at start, before anything depends on it.
   * @throws EventStoreUnavailableError when it does not.
   */
  async ping(): Promise<void> {
    await this.readAllPage(null, 'backwards', 1);
  }

  async close(): Promise<void> {
    this.closing ??= this.client.dispose();
    await this.closing;
  }

  private see(position: Position): void {
    if (comparePositions(position, this.seen) > 0) this.seen = position;
  }

  /**
   * One read of up to `count` records of `$all` strictly after (forwards) or before (backwards)
   * `from` (null: from the start or the end), with the server's own events left out.
   * `lastRaw` is the position of the last record read, whether kept or not, to page on from.
   */
  private async readAllPage(
    from: Position | null,
    direction: 'forwards' | 'backwards',
    count: number,
  ): Promise<{ events: RecordedEvent[]; lastRaw: Position | null; atEnd: boolean }> {
    const exclusive = from !== null && !isStart(from);
    const forwards = direction === 'forwards';
    // A read of `$all` includes the record at its starting position: ask for one more.
    const maxCount = count + (exclusive ? 1 : 0);
    const events: RecordedEvent[] = [];
    let lastRaw: Position | null = null;
    let raw = 0;
    try {
      const read = this.client.readAll({
        direction: forwards ? FORWARDS : BACKWARDS,
        fromPosition: exclusive ? from : forwards ? ESDB_START : END,
        maxCount,
      });
      for await (const resolved of read) {
        raw++;
        const recorded = resolved.event;
        if (!recorded?.position) continue;
        const position = toPosition(recorded.position);
        if (exclusive) {
          const order = comparePositions(position, from);
          if (forwards ? order <= 0 : order >= 0) continue;
        }
        lastRaw = position;
        if (!isSystem(recorded)) events.push(toRecorded(recorded));
      }
    } catch (err) {
      throw unavailableOr(err, 'read of $all');
    }
    return { events, lastRaw, atEnd: raw < maxCount || lastRaw === null };
  }
}

/** Whether an error means the server could not be reached or did not answer in time. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof EventStoreUnavailableError) return true;
  if (err instanceof Error && isCommandError(err)) {
    return (
      err.type === ErrorType.UNAVAILABLE ||
      err.type === ErrorType.DEADLINE_EXCEEDED ||
      err.type === ErrorType.TIMEOUT ||
      err.type === ErrorType.NOT_LEADER ||
      // The server cancelled the call (a node shutting down); the client's own cancellations
      // never reach us as errors.
      err.type === ErrorType.CANCELLED
    );
  }
  // A cluster's gossip found no node to talk to (the client throws a plain Error for it).
  if (err instanceof Error && /^Failed to discover\b/.test(err.message)) return true;
  // gRPC status 14 (UNAVAILABLE) or 4 (DEADLINE_EXCEEDED) raised before the client wraps it.
  const code = (err as { code?: unknown } | null)?.code;
  return code === 14 || code === 4;
}

function unavailableOr(err: unknown, what: string): Error {
  if (isUnreachable(err)) {
    return new EventStoreUnavailableError(`EventStoreDB: ${what} failed: ${describe(err)}`, err);
  }
  return err instanceof Error ? err : new Error(`EventStoreDB: ${what} failed: ${describe(err)}`);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isStart(p: Position): boolean {
  return p.commit === 0n && p.prepare === 0n;
}

function isSystem(e: EsdbRecordedEvent): boolean {
  return e.type.startsWith('$') || e.streamId.startsWith('$');
}

function toPosition(p: EsdbPosition): Position {
  return { commit: p.commit, prepare: p.prepare };
}

function toExpected(expected: ExpectedRevision): AppendExpectedRevision {
  return typeof expected === 'number' ? BigInt(expected) : expected;
}

/** Our metadata, with the correlation ids under EventStoreDB's well-known keys. */
function toProposed(e: EventData) {
  const { correlationId, causationId, ...rest } = e.metadata;
  return jsonEvent<JSONEventType>({
    id: e.id,
    type: e.type,
    data: e.data as JSONType,
    metadata: {
      ...rest,
      $correlationId: correlationId,
      ...(causationId === undefined ? {} : { $causationId: causationId }),
      ...(e.recordedAt ? { $originalCreated: e.recordedAt.toISOString() } : {}),
    },
  });
}

function toRecorded(e: EsdbRecordedEvent): RecordedEvent {
  const { $correlationId, $causationId, $originalCreated, ...rest } = (e.metadata ?? {}) as Record<
    string,
    unknown
  >;
  const metadata = {
    ...rest,
    correlationId: $correlationId,
    ...($causationId === undefined ? {} : { causationId: $causationId }),
  } as EventMetadata;
  return {
    id: e.id,
    type: e.type,
    streamId: e.streamId,
    revision: Number(e.revision),
    position: e.position ? toPosition(e.position) : START,
    data: e.data,
    metadata,
    createdAt: typeof $originalCreated === 'string' ? new Date($originalCreated) : e.created,
  };
}

/**
 * Batches of what an object-mode stream has buffered, up to `max` at a time, without waiting for
 * more once something is there. Throws the stream's error; ends when the signal aborts.
 */
async function* batchesOf<T>(
  readable: Readable,
  max: number,
  signal?: AbortSignal,
): AsyncGenerator<T[]> {
  // Set by the listeners below, read by the loop.
  const state: { failure: Error | null; ended: boolean } = { failure: null, ended: false };
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const onError = (err: unknown) => {
    state.failure = err instanceof Error ? err : new Error(String(err));
    poke();
  };
  const onEnd = () => {
    state.ended = true;
    poke();
  };
  readable.on('readable', poke);
  readable.on('error', onError);
  readable.on('end', onEnd);
  signal?.addEventListener('abort', poke);
  try {
    for (;;) {
      if (signal?.aborted) return;
      if (state.failure) throw state.failure;
      const batch: T[] = [];
      let item: T | null;
      while (batch.length < max && (item = readable.read() as T | null) !== null) batch.push(item);
      if (batch.length) {
        yield batch;
        continue;
      }
      if (state.ended) throw new Error('the server ended the subscription');
      // 'readable' is emitted on a later tick than read() returning null, never lost here.
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    readable.off('readable', poke);
    readable.off('error', onError);
    readable.off('end', onEnd);
    signal?.removeEventListener('abort', poke);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}
