import { Lru } from '../common/lru';
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

/** A group's members and their roles, as of the follower's position in the log. */
type Room = Map<string, number>;

/**
 * The members of the groups whose events this node routes, kept in step with the log by the
 * follower: a group is loaded from its stream up to (not including) the first of its events the
 * follower routes, then every later event of the group is applied as the follower passes it. So
 * the audience of each event is the membership exactly as it stood there, on every node alike.
 * The audience is the members connected to this node (`isOnline`).
 */
export class GroupRooms {
  private readonly rooms: Lru<string, Room>;

  constructor(
    private readonly store: EventStore,
    private readonly isOnline: (uid: string) => boolean,
    capacity = 10_000,
  ) {
    this.rooms = new Lru(capacity);
  }

  /** Loads the rooms of `groups` not held yet, each from its stream before `before`. */
  async load(groups: ReadonlyMap<string, Position>): Promise<void> {
    await Promise.all(
      [...groups].map(async ([groupId, before]) => {
        if (this.rooms.get(groupId)) return;
        const events = await this.store.readStream(groupStream(groupId));
        const room: Room = new Map();
        for (const e of events) {
          if (comparePositions(e.position, before) >= 0) break;
          applyTo(room, e);
        }
        this.rooms.set(groupId, room);
      }),
    );
  }

  /** Applies a group event to its room, if this node holds it (once routed). */
  apply(e: RecordedEvent): void {
    const groupId = (e.data as { groupId?: string }).groupId;
    if (groupId === undefined) return;
    const room = this.rooms.get(groupId);
    if (room) applyTo(room, e);
  }

  private online(groupId: string, filter: (role: number) => boolean = () => true): string[] {
    const room = this.rooms.get(groupId);
    if (!room) return [];
    const out: string[] = [];
    for (const [uid, role] of room) if (filter(role) && this.isOnline(uid)) out.push(uid);
    return out;
  }

  /** The audience for routing: the connected members as the rooms stand now. */
  readonly audience: GroupAudience = {
    ofMessage: (groupId) => this.online(groupId),
    ofChange: (groupId) => this.online(groupId),
    managers: (groupId) => this.online(groupId, (r) => r === ROLE_OWNER || r === ROLE_ADMIN),
  };
}

function applyTo(room: Room, e: RecordedEvent): void {
  switch (e.type) {
    case GROUP_CREATED:
      for (const m of (e.data as GroupCreatedData).members) room.set(m.uid, m.roleLevel);
      break;
    case GROUP_MEMBERS_JOINED:
      for (const m of (e.data as GroupMembersJoinedData).members) room.set(m.uid, m.roleLevel);
      break;
    case GROUP_MEMBERS_LEFT:
      for (const uid of (e.data as GroupMembersLeftData).uids) room.delete(uid);
      break;
    case GROUP_MEMBER_ROLE_SET: {
      const r = e.data as GroupMemberRoleSetData;
      if (room.has(r.uid)) room.set(r.uid, r.roleLevel);
      break;
    }
    case GROUP_OWNER_TRANSFERRED: {
      const t = e.data as GroupOwnerTransferredData;
      if (room.has(t.fromUid)) room.set(t.fromUid, ROLE_MEMBER);
      if (room.has(t.toUid)) room.set(t.toUid, ROLE_OWNER);
      break;
    }
  }
}
