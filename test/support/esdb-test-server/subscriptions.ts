/**
 * Catch-up subscriptions to $all and to a stream, after EventStoreDB's subscription enumerators
 * (src/EventStore.Core/Services/Transport/Enumerators/Enumerator.AllSubscription*.cs and
 * Enumerator.StreamSubscription.cs, 23.10 and later):
 *
 * - the live feed is attached first, then `confirmation` is sent;
 * - catch-up reads pages from the log and sends what lies after the start (exclusive);
 * - at the end of the log `caught_up` is sent and the subscription serves the live feed;
 * - the live feed holds at most 32 entries and drops the oldest; a gap in it means the client
 *   did not keep up: `fell_behind` is sent and the subscription catches up from the log again;
 * - filtered $all subscriptions send `checkpoint`s: during catch-up whenever the considered
 *   events reach the checkpoint interval and once at the end of catch-up, when live every
 *   `checkpointInterval` events written (matching or not) at the position of the last one.
 */
import { randomUUID } from 'node:crypto';
import {
  BEFORE_FIRST,
  comparePositions,
  positionOf,
  type EventLog,
  type EventRecord,
  type LogPosition,
} from './event-log';
import { READ_BATCH_SIZE, type EventFilter } from './event-filter';
import {
  caughtUpResponse,
  checkpointResponse,
  confirmationResponse,
  eventResponse,
  fellBehindResponse,
  type ResponseWriter,
} from './read-responses';
import type { UuidFormat } from './uuid';

/** Capacity of a subscription's live feed (`Enumerator.MaxLiveEventBufferCount`). */
const LIVE_FEED_CAPACITY = 32;

type LiveEntry<T> = { readonly sequence: number } & (
  | { readonly kind: 'event'; readonly record: EventRecord }
  | { readonly kind: 'checkpoint'; readonly position: T }
);

/** A bounded live channel with DropOldest; sequence numbers reveal what was dropped. */
class LiveFeed<T> {
  private readonly entries: LiveEntry<T>[] = [];
  private sequence = 0;
  private wake: (() => void) | undefined;

  pushEvent(record: EventRecord): void {
    this.push({ sequence: ++this.sequence, kind: 'event', record });
  }

  pushCheckpoint(position: T): void {
    this.push({ sequence: ++this.sequence, kind: 'checkpoint', position });
  }

  async next(writer: ResponseWriter): Promise<LiveEntry<T>> {
    while (this.entries.length === 0) {
      await writer.until((wake) => (this.wake = wake));
    }
    return this.entries.shift()!;
  }

  private push(entry: LiveEntry<T>): void {
    this.entries.push(entry);
    if (this.entries.length > LIVE_FEED_CAPACITY) this.entries.shift();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

export type AllStart = 'start' | 'end' | LogPosition;

/** Runs a subscription to $all until the call goes (the writer then throws CallGone). */
export async function subscribeToAll(
  log: EventLog,
  writer: ResponseWriter,
  uuidFormat: UuidFormat,
  start: AllStart,
  filter: EventFilter | undefined,
): Promise<void> {
  const feed = new LiveFeed<LogPosition>();
  let writtenSinceCheckpoint = 0;
  const detach = log.onAppend((records) => {
    for (const record of records) {
      if (!filter || filter.allows(record)) feed.pushEvent(record);
      if (!filter) continue;
      // The subscription service counts every event written, matching or not.
      writtenSinceCheckpoint += 1;
      if (writtenSinceCheckpoint >= filter.checkpointInterval) {
        feed.pushCheckpoint(positionOf(record));
        writtenSinceCheckpoint = 0;
      }
    }
  });
  let lastCheckpointSent: LogPosition | undefined;
  const sendCheckpoint = async (position: LogPosition) => {
    if (!filter || comparePositions(position, BEFORE_FIRST) === 0) return;
    // The same checkpoint can come from catch-up and from the live feed; it is sent once.
    if (lastCheckpointSent && comparePositions(position, lastCheckpointSent) <= 0) return;
    lastCheckpointSent = position;
    await writer.write(checkpointResponse(position));
  };
  const sendEvent = (record: EventRecord) => writer.write(eventResponse(record, uuidFormat));

  const catchUp = filter
    ? async (checkpoint: LogPosition): Promise<LogPosition> => {
        // Pages as FilteredReadAllEventsForward reads them: up to READ_BATCH_SIZE matches or
        // maxSearchWindow considered events, starting at (inclusive) the page start.
        let considered = 0;
        let pageStart = maxPosition(checkpoint, { commit: 0n, prepare: 0n });
        for (;;) {
          let index = log.firstIndexAtOrAfter(pageStart);
          let next = pageStart;
          let matched = 0;
          let consideredInPage = 0;
          let reachedEnd = false;
          while (matched < READ_BATCH_SIZE && consideredInPage < filter.maxSearchWindow) {
            const record = log.at(index++);
            if (!record) {
              reachedEnd = true;
              break;
            }
            consideredInPage += 1;
            next = { commit: record.postPosition, prepare: 0n };
            if (!filter.allows(record)) continue;
            matched += 1;
            if (comparePositions(positionOf(record), checkpoint) <= 0) continue;
            await sendEvent(record);
            checkpoint = positionOf(record);
          }
          considered += consideredInPage;
          if (reachedEnd) {
            // A checkpoint on going live, so one comes at least every interval.
            checkpoint = maxPosition(checkpoint, pageStart);
            await sendCheckpoint(checkpoint);
            return checkpoint;
          }
          if (considered >= filter.checkpointInterval) {
            considered %= filter.checkpointInterval;
            checkpoint = maxPosition(checkpoint, pageStart);
            await sendCheckpoint(checkpoint);
          }
          pageStart = next;
        }
      }
    : async (checkpoint: LogPosition): Promise<LogPosition> => {
        for (let index = log.firstIndexAfter(checkpoint); ; index++) {
          const record = log.at(index);
          if (!record) return checkpoint;
          await sendEvent(record);
          checkpoint = positionOf(record);
        }
      };

  try {
    const lastAtStart = log.lastPosition();
    await writer.write(confirmationResponse(randomUUID()));
    let checkpoint = start === 'start' ? BEFORE_FIRST : start === 'end' ? lastAtStart : start;
    let sequence = 0;
    const goLive = async () => {
      await writer.write(caughtUpResponse());
      for (;;) {
        const entry = await feed.next(writer);
        const inSequence = entry.sequence === sequence + 1;
        sequence = entry.sequence;
        if (entry.kind === 'event' && comparePositions(positionOf(entry.record), checkpoint) <= 0) {
          continue; // sent during catch-up already
        }
        if (entry.kind === 'checkpoint' && comparePositions(entry.position, checkpoint) < 0) {
          continue;
        }
        if (!inSequence) {
          await writer.write(fellBehindResponse());
          await sendCheckpoint(checkpoint);
          return;
        }
        if (entry.kind === 'event') {
          await sendEvent(entry.record);
          checkpoint = positionOf(entry.record);
        } else {
          await sendCheckpoint(entry.position);
          checkpoint = entry.position;
        }
      }
    };
    if (comparePositions(checkpoint, lastAtStart) >= 0) await goLive();
    for (;;) {
      checkpoint = await catchUp(checkpoint);
      await goLive();
    }
  } finally {
    detach();
  }
}

export type StreamStart = 'start' | 'end' | bigint;

/** Runs a subscription to one stream until the call goes. A missing stream is simply empty. */
export async function subscribeToStream(
  log: EventLog,
  writer: ResponseWriter,
  uuidFormat: UuidFormat,
  streamId: string,
  start: StreamStart,
): Promise<void> {
  const feed = new LiveFeed<never>();
  const detach = log.onAppend((records) => {
    for (const record of records) if (record.streamId === streamId) feed.pushEvent(record);
  });
  const sendEvent = (record: EventRecord) => writer.write(eventResponse(record, uuidFormat));
  try {
    const lastAtStart = log.lastRevision(streamId);
    await writer.write(confirmationResponse(randomUUID()));
    // The revision last sent; events after it are due.
    let checkpoint =
      start === 'start'
        ? -1
        : start === 'end'
          ? lastAtStart
          : Number(start > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : start);
    let sequence = 0;
    const goLive = async () => {
      await writer.write(caughtUpResponse());
      for (;;) {
        const entry = await feed.next(writer);
        const inSequence = entry.sequence === sequence + 1;
        sequence = entry.sequence;
        if (entry.kind !== 'event' || entry.record.revision <= checkpoint) continue;
        if (!inSequence) {
          await writer.write(fellBehindResponse());
          return;
        }
        await sendEvent(entry.record);
        checkpoint = entry.record.revision;
      }
    };
    if (checkpoint >= lastAtStart) await goLive();
    for (;;) {
      for (let revision = checkpoint + 1; ; revision++) {
        const record = log.stream(streamId)?.[revision];
        if (!record) break;
        await sendEvent(record);
        checkpoint = revision;
      }
      await goLive();
    }
  } finally {
    detach();
  }
}

function maxPosition(a: LogPosition, b: LogPosition): LogPosition {
  return comparePositions(a, b) >= 0 ? a : b;
}
