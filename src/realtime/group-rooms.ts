import {
  comparePositions,
  EventStore,
  Position,
  RecordedEvent,
} from '../event-store/event-store.port';
import {
  GROUP_CREATED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GroupCreatedData,
  GroupMemberRoleSetData,
  GroupMembersJoinedData,
  GroupMembersLeftData,
  GroupOwnerTransferredData,
  groupStream,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROLE_OWNER,
} from '../groups/groups.events';
import type { GroupAudience } from './push-router';

/** A group's members and their roles as of the follower's position, and those connected here. */
interface Room {
  readonly groupId: string;
  readonly members: Map<string, number>;
  readonly online: Set<string>;
}

/**
 * The members of the groups whose events this node routes, kept in step with the log by the
 * follower: a group is loaded from its stream up to (not including) the first of its events the
 * follower routes, then every later event of the group is applied as the follower passes it. So
 * the audience of each event is the membership exactly as it stood there, on every node alike.
 *
 * The audience is the members connected to this node. Each room keeps that set up to date as
 * members come and go and as users connect and disconnect ({@link presence}), so routing a
 * message costs the number of connected members, not the size of the group.
 */
export class GroupRooms {
  private rooms = new Map<string, Room>();

  /** Members held across all rooms (what bounds this node's memory for them). */
  private held = 0;
  /** The held rooms each member is in, so a user's coming and going touches only theirs. */
  private roomsOf = new Map<string, Set<string>>();

  constructor(
    private readonly store: EventStore,
    private readonly isOnline: (uid: string) => boolean,
    /** Rooms held at most, and members across them: past either, the oldest loaded go. */
    private readonly capacity = 10_000,
    private readonly memberCapacity = 2_000_000,
  ) {}

  /** Loads the rooms of `groups` not held yet, each from its stream before `before`. */
  async load(groups: ReadonlyMap<string, Position>): Promise<void> {
    await Promise.all(
      [...groups].map(async ([groupId, before]) => {
        if (this.rooms.has(groupId)) return;
        const events = await this.store.readStream(groupStream(groupId));
        const room: Room = { groupId, members: new Map(), online: new Set() };
        for (const e of events) {
          if (comparePositions(e.position, before) >= 0) break;
          this.applyTo(room, e);
        }
        this.remember(groupId, room);
      }),
    );
  }

  /** Held rooms beyond the capacity are forgotten, oldest loaded first (loaded again if needed). */
  private remember(groupId: string, room: Room): void {
    // (its members were counted in `held` as they were applied)
    this.rooms.set(groupId, room);
    // (the room just loaded stays, however large: the batch being routed needs it)
    while (
      this.rooms.size > 1 &&
      (this.rooms.size > this.capacity || this.held > this.memberCapacity)
    ) {
      const [oldest, forgotten] = this.rooms.entries().next().value as [string, Room];
      if (oldest === groupId) break;
      this.rooms.delete(oldest);
      for (const uid of forgotten.members.keys()) this.unindex(uid, oldest);
      this.held -= forgotten.members.size;
    }
  }

  /** Applies a group event to its room, if this node holds it (once routed). */
  apply(e: RecordedEvent): void {
    const groupId = (e.data as { groupId?: string }).groupId;
    if (groupId === undefined) return;
    const room = this.rooms.get(groupId);
    if (room) this.applyTo(room, e);
  }

  /** `uid` connected to this node or left it: the rooms that have them follow. */
  presence(uid: string): void {
    const online = this.isOnline(uid);
    for (const groupId of this.roomsOf.get(uid) ?? []) {
      const room = this.rooms.get(groupId);
      if (!room) continue; // (still being loaded: its load asks isOnline itself)
      if (online) room.online.add(uid);
      else room.online.delete(uid);
    }
  }

  private unindex(uid: string, groupId: string): void {
    const groups = this.roomsOf.get(uid);
    groups?.delete(groupId);
    if (groups?.size === 0) this.roomsOf.delete(uid);
  }

  /** Forgets every room (the follower's position did not move past what they hold). */
  clear(): void {
    this.rooms = new Map();
    this.roomsOf = new Map();
    this.held = 0;
  }

  private connected(groupId: string, filter?: (role: number) => boolean): string[] {
    const room = this.rooms.get(groupId);
    if (!room) return [];
    const out: string[] = [];
    for (const uid of room.online) {
      if (!filter || filter(room.members.get(uid) ?? 0)) out.push(uid);
    }
    return out;
  }

  /** The audience for routing: the connected members as the rooms stand now. */
  readonly audience: GroupAudience = {
    ofMessage: (groupId) => this.connected(groupId),
    ofChange: (groupId) => this.connected(groupId),
    managers: (groupId) => this.connected(groupId, (r) => r === ROLE_OWNER || r === ROLE_ADMIN),
  };

  private applyTo(room: Room, e: RecordedEvent): void {
    const join = (uid: string, role: number) => {
      if (!room.members.has(uid)) {
        this.held += 1;
        let groups = this.roomsOf.get(uid);
        if (!groups) this.roomsOf.set(uid, (groups = new Set()));
        groups.add(room.groupId);
      }
      room.members.set(uid, role);
      if (this.isOnline(uid)) room.online.add(uid);
    };
    switch (e.type) {
      case GROUP_CREATED:
        for (const m of (e.data as GroupCreatedData).members) join(m.uid, m.roleLevel);
        break;
      case GROUP_MEMBERS_JOINED:
        for (const m of (e.data as GroupMembersJoinedData).members) join(m.uid, m.roleLevel);
        break;
      case GROUP_MEMBERS_LEFT:
        for (const uid of (e.data as GroupMembersLeftData).uids) {
          if (room.members.delete(uid)) {
            this.held -= 1;
            this.unindex(uid, room.groupId);
          }
          room.online.delete(uid);
        }
        break;
      case GROUP_MEMBER_ROLE_SET: {
        const r = e.data as GroupMemberRoleSetData;
        if (room.members.has(r.uid)) room.members.set(r.uid, r.roleLevel);
        break;
      }
      case GROUP_OWNER_TRANSFERRED: {
        const t = e.data as GroupOwnerTransferredData;
        if (room.members.has(t.fromUid)) room.members.set(t.fromUid, ROLE_MEMBER);
        if (room.members.has(t.toUid)) room.members.set(t.toUid, ROLE_OWNER);
        break;
      }
    }
  }
}
