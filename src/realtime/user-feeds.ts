import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../core/core.module';
import { comparePositions, EventStore, Position } from '../event-store/event-store.port';
import { encodeCursor } from './cursor';
import { ProjectionProgress } from './projection-progress';
import {
  GroupAudience,
  MessagePush,
  MessageRecalledPush,
  NO_GROUPS,
  Push,
  SessionTouch,
} from './push-router';
import { PushSink, RealtimeFollower, RoutedEvent, SessionUpdatedPush } from './realtime-follower';

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
/** Longest a replay waits for the groups projection to reach where it reads to. */
const GROUPS_WAIT_MS = 2_000;

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
  private stopped = false;

  constructor(
    private readonly follower: RealtimeFollower,
    private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly progress: ProjectionProgress,
  ) {
    follower.addSink(this);
  }

  isOnline(uid: string): boolean {
    return this.listeners.has(uid);
  }

  push(push: Push, position: Position, _origin: string, final: boolean): void {
    // One event may give a user several items (a recall: its notice and message_recalled); only
    // the last carries the cursor, so a client resuming from it has them all.
    const item = {
      cursor: final ? encodeCursor(position, this.store.adapter) : null,
      event: push.event,
      data: push.data,
      position,
    };
    for (const listener of this.listeners.get(push.to) ?? []) listener(item);
  }

  sessionUpdated(uid: string, session: SessionUpdatedPush): void {
    const item = { cursor: null, event: 'session_updated', data: session, position: null };
    for (const listener of this.listeners.get(uid) ?? []) listener(item);
  }

  /** How many feeds (SSE streams, waiting polls) of `uid` this node holds. */
  feedsOf(uid: string): number {
    return this.listeners.get(uid)?.size ?? 0;
  }

  /** Hears `uid`'s live items until the returned function is called. */
  listen(uid: string, listener: Listener): () => void {
    let set = this.listeners.get(uid);
    if (!set) {
      this.listeners.set(uid, (set = new Set()));
      this.follower.presenceChanged(uid);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(uid) === set) {
        this.listeners.delete(uid);
        this.follower.presenceChanged(uid);
      }
    };
  }

  /**
   * msg_status (1 recalled by its sender, 2 by the system) of the messages among `routed` that
   * are recalled, from history and from the recalls in the same page (history may lag them).
   */
  private async recalledNow(routed: readonly RoutedEvent[], uid: string) {
    const keys: string[] = [];
    const status = new Map<string, number>();
    for (const r of routed) {
      for (const p of r.pushes) {
        if (p.to !== uid) continue;
        if (p.event === 'message') keys.push((p.data as MessagePush).msg_key);
        if (p.event === 'message_recalled') {
          const d = p.data as MessageRecalledPush;
          status.set(d.msg_key, d.sys_cancel ? 2 : 1);
        }
      }
    }
    if (keys.length === 0) return status;
    const { rows } = await this.pool.query<{ msg_key: string; msg_status: number }>(
      `SELECT msg_key::text, msg_status FROM rm_messages
        WHERE msg_key = ANY($1::text[]::bigint[]) AND msg_status <> 0`,
      [keys],
    );
    for (const row of rows)
      status.set(row.msg_key, Math.max(row.msg_status, status.get(row.msg_key) ?? 0));
    return status;
  }

  /**
   * `uid` as the audience of a replay's group events: the messages within their membership of
   * each group (after their join, up to their leaving), and the changes of the groups they are
   * in (or that name them), from the membership read model.
   */
  private async groupsOf(uid: string): Promise<GroupAudience> {
    const { rows } = await this.pool.query<{
      group_id: string;
      join_seqno: string;
      left_seqno: string | null;
      join_revision: string;
      left_revision: string | null;
      manager_since_revision: string | null;
    }>(
      `SELECT group_id, join_seqno, left_seqno, join_revision, left_revision,
              manager_since_revision
         FROM rm_group_members WHERE uid = $1`,
      [uid],
    );
    if (rows.length === 0) return NO_GROUPS;
    const windows = new Map(rows.map((r) => [r.group_id, r]));
    const me = [uid];
    // A change reaches a member after the event of their join and before the event of their
    // leaving, by the group stream's order (those two events name them, and reach them by that).
    const within = (groupId: string, revision: number) => {
      const w = windows.get(groupId);
      if (!w || revision <= Number(w.join_revision)) return null;
      return w.left_revision === null || revision < Number(w.left_revision) ? w : null;
    };
    return {
      ofMessage: (groupId, seqno) => {
        const w = windows.get(groupId);
        if (!w || seqno <= Number(w.join_seqno)) return [];
        return w.left_seqno === null || seqno <= Number(w.left_seqno) ? me : [];
      },
      ofChange: (groupId, revision) => (within(groupId, revision) ? me : []),
      // Applications reach an owner or admin made after the event that made them one.
      managers: (groupId, revision) => {
        const w = within(groupId, revision);
        const since = w?.manager_since_revision;
        return since !== null && since !== undefined && revision > Number(since) ? me : [];
      },
    };
  }

  /** Registers what ends an open feed when the node stops; returns its removal. */
  onShutdown(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  /** True once the node is stopping: new feeds are refused (50302). */
  get stopping(): boolean {
    return this.stopped;
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
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
    // The membership read model must have applied every event up to `upto` (bounded: a stuck
    // projection leaves the replay with the memberships it has).
    if (!complete) {
      const waited = AbortSignal.any([signal, AbortSignal.timeout(GROUPS_WAIT_MS)]);
      await this.progress.reached('groups', upto, waited);
      // Replaying with memberships older than the events would hand a new member's messages to
      // nobody for good: give nothing yet, the client asks again from the same cursor.
      if (waited.aborted) return { items: [], scannedTo: after, complete: false };
    }
    const groups = complete ? NO_GROUPS : await this.groupsOf(uid);
    while (!complete && items.length < limit && scanned < SCAN_BUDGET && !signal.aborted) {
      const page = await this.store.readAll({ after: scannedTo, limit: PAGE });
      const events = page.filter((e) => comparePositions(e.position, upto) <= 0);
      const routed = await this.follower.route(events, (u) => u === uid, groups);
      const recalled = await this.recalledNow(routed, uid);
      let stoppedEarly = false;
      for (const r of routed) {
        const mine = r.pushes.filter((p) => p.to === uid);
        mine.forEach((p, i) => {
          let data = p.data;
          if (p.event === 'message') {
            // A replay shows a message as history does now: recalled, its content is gone;
            // recalled by the system, it is gone entirely.
            const status = recalled.get((data as MessagePush).msg_key);
            if (status === 2) return;
            if (status === 1) data = { ...(data as MessagePush), content: '', msg_status: 1 };
          }
          const cursor =
            i === mine.length - 1 ? encodeCursor(r.position, this.store.adapter) : null;
          items.push({ cursor, event: p.event, data, position: r.position });
        });
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
