import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { KeyRing } from '../crypto/key-ring';
import {
  comparePositions,
  EventStore,
  Position,
  RecordedEvent,
  START,
} from '../event-store/event-store.port';
import { ERASED_CONTENT } from '../../projections/messages.projector';
import { SessionReader, toSessionView } from '../sessions/session-reader';
import type { SessionView } from '../sessions/session.view';
import { PositionWaiters } from '../common/position-waiters';
import { ProjectionProgress } from './projection-progress';
import {
  GROUP_CREATED,
  GROUP_EVENT_TYPES,
  GROUP_MEMBERS_JOINED,
  GroupCreatedData,
  GroupMembersJoinedData,
} from '../groups/groups.events';
import { GroupRooms } from './group-rooms';
import {
  GroupAudience,
  groupOf,
  NO_GROUPS,
  Push,
  routeEvent,
  sealedMessage,
  SessionTouch,
} from './push-router';

/** A session object pushed after the projection applied a change (`removed` 1 once removed). */
export type SessionUpdatedPush = SessionView & { removed: 0 | 1 };

/** Where pushes go on this node: the Socket.IO gateway, the SSE and long-poll feeds. */
export interface PushSink {
  /** True when this node holds a connection of the user. */
  isOnline(uid: string): boolean;
  /**
   * One routed push, at the log position of its event; `origin` is its correlation id; `final`
   * when no other push of the same event goes to the same user after it.
   */
  push(push: Push, position: Position, origin: string, final: boolean): void;
  /**
   * Pushes of one event that carry the same data to several users (a group message to its
   * connected members): a sink may encode it once for all of them. Each push is `final`.
   */
  pushShared?(pushes: readonly Push[], position: Position, origin: string): void;
  sessionUpdated(uid: string, session: SessionUpdatedPush): void;
}

/** What the feed replays for a client that comes back with a cursor. */
export interface RoutedEvent {
  readonly position: Position;
  /** The event's correlation id: which command, and so which connection, caused it. */
  readonly origin: string;
  readonly pushes: Push[];
  readonly touched: SessionTouch[];
}

const BATCH = 500;
/**
 * After a small batch, how long to let more events gather before reading on: a few ms of
 * delivery latency for far fewer reads of the log under moderate load (each read also asks
 * PostgreSQL for the visible horizon, which scans its lock table).
 */
const GATHER_MS = 3;
const RETRY_MS = 200;
/** Longest a session object waits for the sessions projection before it is left out. */
const SESSION_WAIT_MS = 2_000;

/**
 * Follows the event log from where it stood when this node started and hands every committed
 * event's pushes to the connections this node holds. Every API node runs one, so a message reaches
 * its recipients on any node with no broker but the log. Session objects are pushed once the
 * sessions projection has applied the change, so their unread counts match a REST read.
 */
@Injectable()
export class RealtimeFollower implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('realtime');
  private readonly sinks: PushSink[] = [];
  private controller: AbortController | null = null;
  private task: Promise<void> = Promise.resolve();
  private positionNow: Position = START;
  private ready!: Promise<void>;
  private markReady!: () => void;
  /** Sessions to push once projected, by owner|type|talker, with the newest position touched. */
  private pendingSessions = new Map<string, SessionTouch & { position: Position }>();
  private sessionLoop: Promise<void> | null = null;
  /** Callers of {@link passed}, waiting for the follower to hand out a position. */
  private readonly waiters = new PositionWaiters();
  private stopped = false;
  /** Members of the groups this node routes, in step with the log. */
  private readonly rooms: GroupRooms;

  constructor(
    private readonly store: EventStore,
    private readonly keyRing: KeyRing,
    private readonly sessions: SessionReader,
    private readonly progress: ProjectionProgress,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.rooms = new GroupRooms(store, (uid) => this.isOnline(uid));
  }

  /**
   * A sink tells of a user's first connection to this node or their last one gone (and of any
   * change in between: it is idempotent), so that group audiences follow.
   */
  presenceChanged(uid: string): void {
    this.rooms.presence(uid);
  }

  addSink(sink: PushSink): void {
    this.sinks.push(sink);
  }

  /**
   * The position of the last event whose pushes have all been handed out. Pushes of later events
   * reach a sink only after this moves past them, in the same tick.
   */
  get position(): Position {
    return this.positionNow;
  }

  /** Resolves once every push of the event at `position` has been handed out (or on stop). */
  passed(position: Position): Promise<void> {
    if (comparePositions(this.positionNow, position) >= 0 || this.stopped) {
      return Promise.resolve();
    }
    return this.waiters.wait(position);
  }

  /** Resolves once the follower knows where the log stands. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.controller = new AbortController();
    this.positionNow = (await this.store.headPosition()) ?? START;
    this.markReady();
    this.task = this.run(this.controller.signal);
  }

  async onApplicationShutdown(): Promise<void> {
    this.controller?.abort();
    this.stopped = true;
    this.waiters.releaseAll();
    await this.task;
    await this.sessionLoop;
  }

  /**
   * Routes a page of events for a replay, opening message content only for users `wanted` says;
   * `groups` says who hears of each group's events (the replaying user, within their membership).
   */
  async route(
    events: readonly RecordedEvent[],
    wanted: (uid: string) => boolean,
    groups: GroupAudience = NO_GROUPS,
  ): Promise<RoutedEvent[]> {
    const opened = new Map<string, string>();
    await this.open(events, wanted, opened, groups);
    return this.routeOpened(events, opened, groups);
  }

  /**
   * Opens the content of the messages in `events` that go to a wanted user and are not yet in
   * `opened`. Content that is not an envelope (written before encryption) is taken as it is; a
   * destroyed key gives the erased content.
   */
  private async open(
    events: readonly RecordedEvent[],
    wanted: (uid: string) => boolean,
    opened: Map<string, string>,
    groups: GroupAudience,
  ): Promise<void> {
    const contents: { id: string; content: string }[] = [];
    for (const e of events) {
      const m = opened.has(e.id) ? null : sealedMessage(e, groups);
      if (m && m.to.some(wanted)) contents.push({ id: e.id, content: m.content });
    }
    if (contents.length === 0) return;
    const plain = await this.keyRing.openWhereSealed(contents.map((c) => c.content));
    contents.forEach((c, i) => {
      const text = plain[i];
      opened.set(c.id, text === undefined ? c.content : (text ?? ERASED_CONTENT));
    });
  }

  /** Whether some message of `events` goes to a wanted user and is not opened yet. */
  private missingContent(
    events: readonly RecordedEvent[],
    wanted: (uid: string) => boolean,
    opened: ReadonlyMap<string, string>,
    groups: GroupAudience,
  ): boolean {
    return events.some((e) => {
      const m = opened.has(e.id) ? null : sealedMessage(e, groups);
      return m !== null && m.to.some(wanted);
    });
  }

  /**
   * Routes events in order. With `rooms`, each group event is applied to its room once routed,
   * so every event's audience is the membership as it stood just before it.
   */
  private routeOpened(
    events: readonly RecordedEvent[],
    opened: ReadonlyMap<string, string>,
    groups: GroupAudience,
    rooms?: GroupRooms,
  ): RoutedEvent[] {
    return events.map((e) => {
      const routed = {
        position: e.position,
        origin: e.metadata.correlationId,
        ...routeEvent(e, opened.get(e.id), groups),
      };
      if (rooms && GROUP_EVENT_TYPES.has(e.type)) rooms.apply(e);
      return routed;
    });
  }

  /**
   * Who may receive a group message of this batch, for opening content: the connected members
   * now, and those the batch brings in before the message is routed.
   */
  private openingAudience(batch: readonly RecordedEvent[]): GroupAudience {
    const joining = new Map<string, string[]>();
    for (const e of batch) {
      if (e.type !== GROUP_MEMBERS_JOINED && e.type !== GROUP_CREATED) continue;
      const d = e.data as GroupMembersJoinedData | GroupCreatedData;
      const list = joining.get(d.groupId) ?? [];
      list.push(...d.members.map((m) => m.uid));
      joining.set(d.groupId, list);
    }
    const live = this.rooms.audience;
    return {
      ...live,
      ofMessage: (groupId, seqno) => [
        ...live.ofMessage(groupId, seqno),
        ...(joining.get(groupId) ?? []),
      ],
    };
  }

  /** The session objects of `touched`, once the sessions projection has applied `position`. */
  async sessionsAt(
    touched: readonly SessionTouch[],
    position: Position,
    signal: AbortSignal,
  ): Promise<{ owner: string; session: SessionUpdatedPush }[]> {
    if (touched.length === 0) return [];
    // Bounded: a sessions projection that lags or is stuck delays the session objects, and
    // leaves them out after SESSION_WAIT_MS, but holds nothing else back.
    const waited = AbortSignal.any([signal, AbortSignal.timeout(SESSION_WAIT_MS)]);
    await this.progress.reached('sessions', position, waited);
    if (waited.aborted) return [];
    const rows = await this.sessions.ofOwners(touched.map((t) => ({ ...t })));
    return rows.map((r) => ({
      owner: r.owner_uid,
      session: { ...toSessionView(r), removed: r.visible ? 0 : 1 },
    }));
  }

  private isOnline = (uid: string): boolean => this.sinks.some((s) => s.isOnline(uid));

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const batch of this.store.subscribeAll({
          after: this.positionNow,
          batchSize: BATCH,
          signal,
        })) {
          // The rooms of the groups this batch touches, each as it stood before its first event.
          const groups = new Map<string, Position>();
          for (const e of batch) {
            const groupId = groupOf(e);
            if (groupId !== null && !groups.has(groupId)) groups.set(groupId, e.position);
          }
          if (groups.size > 0) await this.rooms.load(groups);
          const opening = this.openingAudience(batch);
          const opened = new Map<string, string>();
          await this.open(batch, this.isOnline, opened, opening);
          // A user may have connected while content was being opened: check again, with no
          // await between this check and the deliveries, so nobody gets a message without it.
          while (this.missingContent(batch, this.isOnline, opened, opening)) {
            await this.open(batch, this.isOnline, opened, opening);
          }
          // From here to the position update nothing awaits: a feed that reads the position
          // sees every push up to it delivered, and every later one still to come.
          for (const r of this.routeOpened(batch, opened, this.rooms.audience, this.rooms)) {
            this.deliver(r);
          }
          this.positionNow = batch[batch.length - 1].position;
          this.waiters.reached(this.positionNow);
          if (batch.length < BATCH / 10) await new Promise((r) => setTimeout(r, GATHER_MS));
        }
      } catch (err) {
        if (signal.aborted) break;
        // The rooms may hold a batch the position has not passed: load them again when resuming.
        this.rooms.clear();
        this.log.error({ err, msg: 'following the event log failed; resuming' });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private deliver(r: RoutedEvent): void {
    const shared = r.pushes.length > 1 && r.pushes.every((p) => p.data === r.pushes[0].data);
    if (shared) {
      // One payload for many users (a group message): each push is its user's only one.
      for (const sink of this.sinks) {
        const mine = r.pushes.filter((p) => sink.isOnline(p.to));
        if (mine.length === 0) continue;
        if (sink.pushShared) sink.pushShared(mine, r.position, r.origin);
        else for (const p of mine) sink.push(p, r.position, r.origin, true);
      }
    } else {
      // The last push of this event to its user: a feed's cursor may move past the event.
      const last = new Map<string, number>();
      r.pushes.forEach((p, i) => last.set(p.to, i));
      r.pushes.forEach((push, i) => {
        const final = last.get(push.to) === i;
        for (const sink of this.sinks) {
          if (sink.isOnline(push.to)) sink.push(push, r.position, r.origin, final);
        }
      });
    }
    for (const t of r.touched) {
      if (!this.isOnline(t.owner)) continue;
      this.pendingSessions.set(`${t.owner}|${t.sessionType}|${t.talkerId}`, {
        ...t,
        position: r.position,
      });
    }
    if (this.pendingSessions.size > 0 && !this.sessionLoop) {
      this.sessionLoop = this.pushSessions().finally(() => (this.sessionLoop = null));
    }
  }

  /** Pushes pending session objects, a batch at a time, each after it is projected. */
  private async pushSessions(): Promise<void> {
    const signal = this.controller!.signal;
    while (this.pendingSessions.size > 0 && !signal.aborted) {
      const batch = [...this.pendingSessions.values()];
      this.pendingSessions = new Map();
      const newest = batch.reduce(
        (max, t) => (comparePositions(t.position, max) > 0 ? t.position : max),
        START,
      );
      try {
        for (const { owner, session } of await this.sessionsAt(batch, newest, signal)) {
          for (const sink of this.sinks) {
            if (sink.isOnline(owner)) sink.sessionUpdated(owner, session);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        this.log.error({ err, msg: 'reading updated sessions failed; they are not pushed' });
      }
    }
  }
}
