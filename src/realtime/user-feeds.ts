import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { comparePositions, EventStore, Position } from '../event-store/event-store.port';
import { encodeCursor } from './cursor';
import type { Push, SessionTouch } from './push-router';
import { PushSink, RealtimeFollower, SessionUpdatedPush } from './realtime-follower';

/**
 * One event of a user's feed. `cursor` is set on events that come from the log (resume after it);
 * `session_updated` has none, being derived state that a resumed feed sends again.
 */
export interface FeedItem {
  readonly cursor: string | null;
  readonly event: string;
  readonly data: unknown;
  /** Log position behind `cursor`, for filtering; null for derived state. */
  readonly position: Position | null;
}

export interface CatchUp {
  readonly items: FeedItem[];
  /** How far the log was read: the cursor to resume from. */
  readonly scannedTo: Position;
  /** False when the read stopped early (item or scan budget): ask again from `scannedTo`. */
  readonly complete: boolean;
}

type Listener = (item: FeedItem) => void;

/** Events read per page when catching up, and at most per catch-up call. */
const PAGE = 1_000;
const SCAN_BUDGET = 10_000;

/**
 * The feed of each user connected by SSE or long poll to this node: live pushes from the log
 * follower, and catch-up from the log itself for a client that comes back with a cursor, so it
 * misses nothing however long it was away.
 */
@Injectable()
export class UserFeeds implements PushSink, BeforeApplicationShutdown {
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Open feeds, to end when the node stops. */
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly follower: RealtimeFollower,
    private readonly store: EventStore,
  ) {
    follower.addSink(this);
  }

  isOnline(uid: string): boolean {
    return this.listeners.has(uid);
  }

  push(push: Push, position: Position): void {
    const item = { cursor: encodeCursor(position), event: push.event, data: push.data, position };
    for (const listener of this.listeners.get(push.to) ?? []) listener(item);
  }

  sessionUpdated(uid: string, session: SessionUpdatedPush): void {
    const item = { cursor: null, event: 'session_updated', data: session, position: null };
    for (const listener of this.listeners.get(uid) ?? []) listener(item);
  }

  /** Hears `uid`'s live items until the returned function is called. */
  listen(uid: string, listener: Listener): () => void {
    let set = this.listeners.get(uid);
    if (!set) this.listeners.set(uid, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(uid) === set) this.listeners.delete(uid);
    };
  }

  /** Registers what ends an open feed when the node stops; returns its removal. */
  onShutdown(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  beforeApplicationShutdown(): void {
    for (const close of [...this.closers]) close();
  }

  /**
   * `uid`'s items of the events after `after` up to `upto` (the follower's position when the
   * caller started listening: later items come live), at most about `limit` of them, then the
   * current session objects of the sessions those events touched.
   */
  async catchUp(
    uid: string,
    after: Position,
    upto: Position,
    limit: number,
    signal: AbortSignal,
  ): Promise<CatchUp> {
    const items: FeedItem[] = [];
    const touched = new Map<string, SessionTouch>();
    let scannedTo = after;
    let scanned = 0;
    let complete = comparePositions(after, upto) >= 0;
    while (!complete && items.length < limit && scanned < SCAN_BUDGET && !signal.aborted) {
      const page = await this.store.readAll({ after: scannedTo, limit: PAGE });
      const events = page.filter((e) => comparePositions(e.position, upto) <= 0);
      const routed = await this.follower.route(events, (u) => u === uid);
      let stoppedEarly = false;
      for (const r of routed) {
        for (const p of r.pushes) {
          if (p.to !== uid) continue;
          const cursor = encodeCursor(r.position);
          items.push({ cursor, event: p.event, data: p.data, position: r.position });
        }
        for (const t of r.touched) {
          if (t.owner === uid) touched.set(`${t.sessionType}|${t.talkerId}`, t);
        }
        scannedTo = r.position;
        scanned += 1;
        if (items.length >= limit && r !== routed[routed.length - 1]) {
          stoppedEarly = true;
          break;
        }
      }
      // Past `upto`, or the end of what the log holds (which `upto` never passes): done.
      if (!stoppedEarly && (events.length < page.length || page.length < PAGE)) {
        complete = true;
        scannedTo = upto;
      }
    }
    for (const { session } of await this.follower.sessionsAt(
      [...touched.values()],
      scannedTo,
      signal,
    )) {
      items.push({ cursor: null, event: 'session_updated', data: session, position: null });
    }
    return { items, scannedTo, complete };
  }
}
