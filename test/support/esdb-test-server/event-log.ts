/**
 * The test server's single in-memory transaction log: every stream's events interleaved in one
 * sequence, each at a byte-like log position, as in an EventStoreDB database of one node.
 *
 * The write rules port `IndexWriter.CheckCommit` and `StorageWriterService` (EventStore/EventStore,
 * src/EventStore.Core/Services/Storage): an append is checked against the expected revision, a
 * retry of events already written at the expected place is answered from the original write
 * (idempotence), and the events of one write get consecutive revisions and positions.
 */

/** An event as the client proposed it (`AppendReq.ProposedMessage`). */
export interface ProposedEvent {
  /** Canonical lower-case UUID. */
  readonly id: string;
  readonly type: string;
  /** `content-type` was `application/json`; the server keeps only this flag, as EventStoreDB does. */
  readonly isJson: boolean;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

/** An event in the log. Commit and prepare positions are equal: each event commits itself. */
export interface EventRecord extends ProposedEvent {
  readonly streamId: string;
  readonly revision: number;
  /** .NET ticks (100 ns) since the Unix epoch, as EventStoreDB sends in the `created` metadata. */
  readonly created: bigint;
  readonly position: bigint;
  /** The position just after this record: where a read page that ends with it continues. */
  readonly postPosition: bigint;
}

/** A position in the log, compared commit first, then prepare (`TFPos`). */
export interface LogPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** Before the first record; a subscription from here receives everything (`TFPos.HeadOfTf`). */
export const BEFORE_FIRST: LogPosition = { commit: -1n, prepare: -1n };

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function positionOf(record: EventRecord): LogPosition {
  return { commit: record.position, prepare: record.position };
}

export type ExpectedRevision =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'revision'; readonly revision: bigint };

/** `currentRevision` is -1 when the stream has no events (the wire's `no_stream`). */
export type AppendResult =
  | {
      readonly kind: 'written' | 'idempotent';
      readonly currentRevision: number;
      readonly position: bigint;
    }
  | { readonly kind: 'wrong_expected_version'; readonly currentRevision: number };

/** The size EventStoreDB counts against the maximum append size (`Event.SizeOnDisk`). */
export function sizeOnDisk(event: ProposedEvent): number {
  return event.data.length + event.metadata.length + event.type.length * 2;
}

type CommitDecision =
  | { readonly kind: 'ok' }
  | { readonly kind: 'idempotent'; readonly lastRevision: number }
  // CorruptedIdempotency (part of the write matches, part does not) is answered as a wrong
  // expected version too, as StorageWriterService.ActOnCommitCheckFailure does.
  | { readonly kind: 'wrong_expected_version' };

// A v2 prepare record: fixed header fields, length prefix and suffix, plus the variable parts.
const RECORD_OVERHEAD = 90;
// The epoch record a fresh database starts with: no event, but it takes log space.
const FIRST_EVENT_POSITION = 128n;

export class EventLog {
  private readonly records: EventRecord[] = [];
  private readonly streams = new Map<string, EventRecord[]>();
  // Event id -> where it was first written; a later write of the same id does not replace it
  // (BoundedCache.PutRecord with throwOnDuplicate: false). EventStoreDB bounds this cache by
  // memory; here it is unbounded, so idempotence for `any` never expires.
  private readonly firstWrites = new Map<string, { streamId: string; revision: number }>();
  private readonly listeners = new Set<(records: readonly EventRecord[]) => void>();
  private nextPosition = FIRST_EVENT_POSITION;

  constructor(
    private readonly clock: () => number = () => performance.timeOrigin + performance.now(),
  ) {}

  get size(): number {
    return this.records.length;
  }

  at(index: number): EventRecord | undefined {
    return this.records[index];
  }

  /** The position of the last event, or BEFORE_FIRST in an empty log. */
  lastPosition(): LogPosition {
    const last = this.records[this.records.length - 1];
    return last ? positionOf(last) : BEFORE_FIRST;
  }

  /** The events of a stream in revision order; undefined if it has none. */
  stream(streamId: string): readonly EventRecord[] | undefined {
    return this.streams.get(streamId);
  }

  /** The last revision of a stream, -1 if it has no events. */
  lastRevision(streamId: string): number {
    return (this.streams.get(streamId)?.length ?? 0) - 1;
  }

  /** Index of the first event at or after `position` (reads forwards are inclusive). */
  firstIndexAtOrAfter(position: LogPosition): number {
    return this.search((record) => comparePositions(positionOf(record), position) >= 0);
  }

  /** Index of the first event strictly after `position` (subscriptions start exclusive). */
  firstIndexAfter(position: LogPosition): number {
    return this.search((record) => comparePositions(positionOf(record), position) > 0);
  }

  /** Calls `listener` synchronously with the events of every write, in log order. */
  onAppend(listener: (records: readonly EventRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  append(
    streamId: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): AppendResult {
    const current = this.lastRevision(streamId);
    const decision = this.checkCommit(streamId, current, expected, events);
    switch (decision.kind) {
      case 'wrong_expected_version':
        return { kind: 'wrong_expected_version', currentRevision: current };
      case 'idempotent': {
        // The original write's last event answers the retry (StorageMessage.AlreadyCommitted).
        const original = this.streams.get(streamId)![decision.lastRevision];
        return {
          kind: 'idempotent',
          currentRevision: decision.lastRevision,
          position: original.position,
        };
      }
      case 'ok':
        return this.write(streamId, current, events);
      default: {
        const unreachable: never = decision;
        return unreachable;
      }
    }
  }

  private write(streamId: string, current: number, events: readonly ProposedEvent[]): AppendResult {
    if (events.length === 0) {
      // An empty write still puts a (data-less) prepare record into the log.
      const position = this.allocate(RECORD_OVERHEAD + Buffer.byteLength(streamId));
      return { kind: 'written', currentRevision: current, position };
    }
    const stream = this.streams.get(streamId) ?? [];
    this.streams.set(streamId, stream);
    const created = BigInt(Math.floor(this.clock() * 10_000));
    const written: EventRecord[] = events.map((event, i) => {
      const size =
        RECORD_OVERHEAD +
        Buffer.byteLength(streamId) +
        Buffer.byteLength(event.type) +
        event.data.length +
        event.metadata.length;
      const position = this.allocate(size);
      return {
        ...event,
        streamId,
        revision: current + 1 + i,
        created,
        position,
        postPosition: position + BigInt(size),
      };
    });
    for (const record of written) {
      this.records.push(record);
      stream.push(record);
      if (!this.firstWrites.has(record.id)) {
        this.firstWrites.set(record.id, { streamId, revision: record.revision });
      }
    }
    for (const listener of this.listeners) listener(written);
    const last = written[written.length - 1];
    return { kind: 'written', currentRevision: last.revision, position: last.position };
  }

  private allocate(size: number): bigint {
    const position = this.nextPosition;
    this.nextPosition += BigInt(size);
    return position;
  }

  /** `IndexWriter.CheckCommit`, without soft deletes and tombstones. */
  private checkCommit(
    streamId: string,
    current: number,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): CommitDecision {
    if (expected.kind === 'stream_exists' && current < 0) {
      // A stream that has only metadata counts as existing.
      if (this.lastRevision(`$$${streamId}`) < 0) return { kind: 'wrong_expected_version' };
    }
    if (expected.kind === 'any' || expected.kind === 'stream_exists') {
      // Idempotent if every id was first written to this stream; a write whose first id is new
      // is a new write, one whose later ids are new is neither (corrupted idempotency).
      let lastRevision = -1;
      for (const [i, event] of events.entries()) {
        const first = this.firstWrites.get(event.id);
        if (!first || first.streamId !== streamId) {
          return i === 0 ? { kind: 'ok' } : { kind: 'wrong_expected_version' };
        }
        lastRevision = first.revision;
      }
      return events.length === 0 ? { kind: 'ok' } : { kind: 'idempotent', lastRevision };
    }
    const expectedRevision = expected.kind === 'no_stream' ? -1n : expected.revision;
    if (expectedRevision < BigInt(current)) {
      // Idempotent if the events after the expected revision are these very events.
      const stream = this.streams.get(streamId)!;
      let revision = Number(expectedRevision);
      for (const event of events) {
        revision += 1;
        // A mismatch after the first event is corrupted idempotency: also a wrong version.
        if (stream[revision]?.id !== event.id) return { kind: 'wrong_expected_version' };
      }
      return events.length === 0
        ? { kind: 'wrong_expected_version' }
        : { kind: 'idempotent', lastRevision: revision };
    }
    if (expectedRevision > BigInt(current)) return { kind: 'wrong_expected_version' };
    return { kind: 'ok' };
  }

  private search(isAtOrPast: (record: EventRecord) => boolean): number {
    let low = 0;
    let high = this.records.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (isAtOrPast(this.records[mid])) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}
