import { Map as ImmutableMap } from 'immutable';
import { uuidV5 } from '../../common/ids';
import type { Decision, NewEvent, StreamDecider } from '../../common/stream-command-processor';
import { GroupErrors } from '../groups.errors';
import {
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_CREATED,
  GROUP_DISMISSED,
  GROUP_INFO_SET,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
  GroupActor,
  GroupApplicationHandledData,
  GroupAppliedData,
  GroupCreatedData,
  GroupDismissedData,
  GroupInfoFields,
  GroupInfoSetData,
  GroupMemberMutedData,
  GroupMemberRoleSetData,
  GroupMembersJoinedData,
  GroupMembersLeftData,
  GroupOwnerTransferredData,
  GroupStatus,
  GroupStatusSetData,
  HandleResult,
  JoinPolicy,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROLE_OWNER,
  RoleLevel,
  STATUS_BANNED,
  STATUS_DISMISSED,
  STATUS_MUTED,
  STATUS_NORMAL,
} from '../groups.events';

/**
 * A group: one stream (`group-<id>`) holding its info, members, roles, mutes and pending
 * applications. Members are a persistent map, so a join or a leave costs the same in a group of
 * 10,000 as in one of 10 (a copy of the map per event would not).
 */

export interface Member {
  readonly roleLevel: RoleLevel;
  readonly joinedAtUs: number;
  /** Microseconds; 0 or past: not muted. */
  readonly mutedUntilUs: number;
}

export interface Application {
  readonly reqMessage: string;
  readonly atUs: number;
}

export interface GroupInfo {
  readonly groupId: string;
  readonly name: string;
  readonly faceUrl: string;
  readonly introduction: string;
  readonly notification: string;
  readonly ex: string;
  readonly groupType: number;
  readonly temporary: boolean;
  readonly joinPolicy: JoinPolicy;
  readonly creatorUid: string | null;
  readonly createdAtUs: number;
}

export type GroupState =
  | { readonly status: 'none' }
  | {
      readonly status: 'exists';
      readonly info: GroupInfo;
      readonly groupStatus: GroupStatus;
      readonly ownerUid: string;
      readonly members: ImmutableMap<string, Member>;
      readonly applications: ImmutableMap<string, Application>;
      /** Increases by one with every event of the group (TeamTalk's group version). */
      readonly version: number;
    };
export type ExistingGroup = Extract<GroupState, { status: 'exists' }>;

interface Base {
  readonly groupId: string;
  readonly actor: GroupActor;
  readonly nowUs: number;
  /** A fresh UUID per request: the events' ids derive from it, so a retried append is the same. */
  readonly commandId: string;
}

export interface CreateGroup extends Base {
  readonly kind: 'CreateGroup';
  readonly name: string;
  readonly faceUrl: string;
  readonly introduction: string;
  readonly notification: string;
  readonly ex: string;
  readonly groupType: number;
  readonly temporary: boolean;
  readonly joinPolicy: JoinPolicy;
  readonly ownerUid: string;
  /** The other initial members (the owner is added as owner whatever this says). */
  readonly members: readonly { readonly uid: string; readonly roleLevel: RoleLevel }[];
  readonly maxMembers: number;
}
export interface SetGroupInfo extends Base {
  readonly kind: 'SetGroupInfo';
  readonly changes: GroupInfoFields;
}
export interface JoinGroup extends Base {
  readonly kind: 'JoinGroup';
  readonly reqMessage: string;
  readonly maxMembers: number;
}
export interface HandleApplication extends Base {
  readonly kind: 'HandleApplication';
  readonly uid: string;
  readonly result: HandleResult;
  readonly handledMsg: string;
  readonly maxMembers: number;
}
export interface QuitGroup extends Base {
  readonly kind: 'QuitGroup';
}
/** Kick (owners, admins) or remove (administrators, TeamTalk's change-members remove). */
export interface RemoveMembers extends Base {
  readonly kind: 'RemoveMembers';
  readonly uids: readonly string[];
  readonly reason: string;
}
/** Invite (members, by the join policy) or add (administrators). */
export interface AddMembers extends Base {
  readonly kind: 'AddMembers';
  readonly uids: readonly string[];
  /** Users that do not exist (looked up outside): refused one by one. */
  readonly unknown: ReadonlySet<string>;
  readonly maxMembers: number;
}
export interface TransferOwner extends Base {
  readonly kind: 'TransferOwner';
  /** OpenIM's OldOwnerUserID: when given it must be the current owner. */
  readonly fromUid: string | null;
  readonly toUid: string;
}
export interface SetMemberRole extends Base {
  readonly kind: 'SetMemberRole';
  readonly uid: string;
  readonly roleLevel: RoleLevel;
}
export interface MuteMember extends Base {
  readonly kind: 'MuteMember';
  readonly uid: string;
  /** 0 lifts the mute. */
  readonly mutedUntilUs: number;
}
export interface SetGroupStatus extends Base {
  readonly kind: 'SetGroupStatus';
  readonly groupStatus: GroupStatus;
}
export interface DismissGroup extends Base {
  readonly kind: 'DismissGroup';
}

export type GroupCommand =
  | CreateGroup
  | SetGroupInfo
  | JoinGroup
  | HandleApplication
  | QuitGroup
  | RemoveMembers
  | AddMembers
  | TransferOwner
  | SetMemberRole
  | MuteMember
  | SetGroupStatus
  | DismissGroup;

/** One user's outcome in a batch operation: OpenIM's Id2Result (0 ok, -1 refused) and why. */
export interface UserResult {
  readonly uid: string;
  readonly result: 0 | -1;
  readonly code?: number;
  readonly reason?: string;
}

export interface GroupResult {
  readonly groupId: string;
  /** The group's version after the command. */
  readonly version: number;
  /** What happened: `joined` or `applied` for a join, `unchanged` when nothing was written. */
  readonly outcome: 'done' | 'joined' | 'applied' | 'unchanged';
  /** Batch operations: each user's outcome, in the order asked. */
  readonly results: readonly UserResult[];
}

const NAMESPACE = '0d6a51f2-7c3e-4b8e-a1f4-5e2b9c7d3a60';

export function initialState(): GroupState {
  return { status: 'none' };
}

const withMember = (members: ImmutableMap<string, Member>, uid: string, m: Member) =>
  members.set(uid, m);

export function evolve(state: GroupState, event: NewEvent): GroupState {
  if (event.type === GROUP_CREATED) {
    const d = event.data as GroupCreatedData;
    let members = ImmutableMap<string, Member>();
    for (const m of d.members) {
      members = withMember(members, m.uid, {
        roleLevel: m.roleLevel,
        joinedAtUs: d.atUs,
        mutedUntilUs: 0,
      });
    }
    return {
      status: 'exists',
      info: {
        groupId: d.groupId,
        name: d.name,
        faceUrl: d.faceUrl,
        introduction: d.introduction,
        notification: d.notification,
        ex: d.ex,
        groupType: d.groupType,
        temporary: d.temporary,
        joinPolicy: d.joinPolicy,
        creatorUid: d.creatorUid,
        createdAtUs: d.atUs,
      },
      groupStatus: STATUS_NORMAL,
      ownerUid: d.ownerUid,
      members,
      applications: ImmutableMap(),
      version: 1,
    };
  }
  if (state.status !== 'exists') return state;
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case GROUP_INFO_SET: {
      const d = event.data as GroupInfoSetData;
      return { ...next, info: { ...state.info, ...d.changes } };
    }
    case GROUP_MEMBERS_JOINED: {
      const d = event.data as GroupMembersJoinedData;
      let members = state.members;
      let applications = state.applications;
      for (const m of d.members) {
        members = withMember(members, m.uid, {
          roleLevel: m.roleLevel,
          joinedAtUs: d.atUs,
          mutedUntilUs: 0,
        });
        applications = applications.delete(m.uid);
      }
      return { ...next, members, applications };
    }
    case GROUP_MEMBERS_LEFT: {
      const d = event.data as GroupMembersLeftData;
      let members = state.members;
      for (const uid of d.uids) members = members.delete(uid);
      return { ...next, members };
    }
    case GROUP_APPLIED: {
      const d = event.data as GroupAppliedData;
      return {
        ...next,
        applications: state.applications.set(d.uid, { reqMessage: d.reqMessage, atUs: d.atUs }),
      };
    }
    case GROUP_APPLICATION_HANDLED: {
      const d = event.data as GroupApplicationHandledData;
      return { ...next, applications: state.applications.delete(d.uid) };
    }
    case GROUP_OWNER_TRANSFERRED: {
      const d = event.data as GroupOwnerTransferredData;
      let members = state.members;
      const from = members.get(d.fromUid);
      if (from) members = members.set(d.fromUid, { ...from, roleLevel: ROLE_MEMBER });
      const to = members.get(d.toUid);
      if (to) members = members.set(d.toUid, { ...to, roleLevel: ROLE_OWNER, mutedUntilUs: 0 });
      return { ...next, ownerUid: d.toUid, members };
    }
    case GROUP_MEMBER_ROLE_SET: {
      const d = event.data as GroupMemberRoleSetData;
      const m = state.members.get(d.uid);
      return m
        ? { ...next, members: state.members.set(d.uid, { ...m, roleLevel: d.roleLevel }) }
        : next;
    }
    case GROUP_MEMBER_MUTED: {
      const d = event.data as GroupMemberMutedData;
      const m = state.members.get(d.uid);
      return m
        ? { ...next, members: state.members.set(d.uid, { ...m, mutedUntilUs: d.mutedUntilUs }) }
        : next;
    }
    case GROUP_STATUS_SET: {
      const d = event.data as GroupStatusSetData;
      return { ...next, groupStatus: d.status };
    }
    case GROUP_DISMISSED:
      return { ...next, groupStatus: STATUS_DISMISSED };
    default:
      return next;
  }
}

// ---- checks shared by the decisions -------------------------------------------------------------

const actorUid = (a: GroupActor): string | null => (a.kind === 'user' ? a.uid : null);

/** The role of the actor: administrators act as owners. */
function roleOf(state: ExistingGroup, actor: GroupActor): RoleLevel | null {
  if (actor.kind === 'admin') return ROLE_OWNER;
  return state.members.get(actor.uid)?.roleLevel ?? null;
}

const isManager = (role: RoleLevel | null) => role === ROLE_OWNER || role === ROLE_ADMIN;

function existing(state: GroupState, groupId: string): ExistingGroup {
  if (state.status !== 'exists') throw GroupErrors.notFound(groupId);
  return state;
}

/** A group that may still change: not dismissed, and not banned unless an administrator acts. */
function changeable(state: GroupState, groupId: string, actor: GroupActor): ExistingGroup {
  const g = existing(state, groupId);
  if (g.groupStatus === STATUS_DISMISSED) throw GroupErrors.dismissed(groupId);
  if (g.groupStatus === STATUS_BANNED && actor.kind !== 'admin') throw GroupErrors.banned(groupId);
  return g;
}

function requireMember(g: ExistingGroup, actor: GroupActor): RoleLevel {
  const role = roleOf(g, actor);
  if (role === null) throw GroupErrors.notMember(g.info.groupId);
  return role;
}

function requireManager(g: ExistingGroup, actor: GroupActor, what: string): RoleLevel {
  const role = requireMember(g, actor);
  if (!isManager(role)) throw GroupErrors.roleRequired(what);
  return role;
}

function requireOwner(g: ExistingGroup, actor: GroupActor, what: string): void {
  if (requireMember(g, actor) !== ROLE_OWNER) throw GroupErrors.ownerRequired(what);
}

/**
 * Why a manager of `role` may not remove or mute a member of role `target`, or null: nobody acts
 * on the owner, and only the owner on an admin.
 */
function outranked(role: RoleLevel, target: RoleLevel, action: 'remove' | 'mute'): string | null {
  if (target === ROLE_OWNER) return `nobody may ${action} the owner`;
  if (target === ROLE_ADMIN && role !== ROLE_OWNER) return `only the owner may ${action} an admin`;
  return null;
}

const one = <T>(type: string, data: T): NewEvent[] => [{ type, data }];

function done(g: ExistingGroup, events: NewEvent[], extra: Partial<GroupResult> = {}) {
  return {
    events,
    result: {
      groupId: g.info.groupId,
      version: g.version + events.length,
      outcome: events.length ? 'done' : 'unchanged',
      results: [],
      ...extra,
    } satisfies GroupResult,
  };
}

// ---- decisions ----------------------------------------------------------------------------------

function decideCreate(c: CreateGroup, state: GroupState): Decision<GroupResult> {
  if (state.status === 'exists') throw GroupErrors.exists(c.groupId);
  if (!c.temporary && c.actor.kind !== 'admin') throw GroupErrors.normalGroupAdminOnly();
  if (c.actor.kind === 'user' && c.ownerUid !== c.actor.uid) {
    throw GroupErrors.roleRequired('create a group owned by someone else');
  }
  const members = new Map<string, RoleLevel>([[c.ownerUid, ROLE_OWNER]]);
  for (const m of c.members) {
    if (members.has(m.uid)) continue;
    members.set(m.uid, m.roleLevel === ROLE_ADMIN ? ROLE_ADMIN : ROLE_MEMBER);
  }
  if (members.size > c.maxMembers) throw GroupErrors.full(c.groupId, c.maxMembers);
  const data: GroupCreatedData = {
    groupId: c.groupId,
    name: c.name,
    faceUrl: c.faceUrl,
    introduction: c.introduction,
    notification: c.notification,
    ex: c.ex,
    groupType: c.groupType,
    temporary: c.temporary,
    joinPolicy: c.joinPolicy,
    ownerUid: c.ownerUid,
    creatorUid: actorUid(c.actor),
    members: [...members].map(([uid, roleLevel]) => ({ uid, roleLevel })),
    atUs: c.nowUs,
  };
  return {
    events: one(GROUP_CREATED, data),
    result: { groupId: c.groupId, version: 1, outcome: 'done', results: [] },
  };
}

function decideSetInfo(c: SetGroupInfo, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  requireManager(g, c.actor, 'change the group info');
  const changes = Object.fromEntries(
    Object.entries(c.changes).filter(
      ([k, v]) => v !== undefined && v !== null && g.info[k as keyof GroupInfoFields] !== v,
    ),
  ) as GroupInfoFields;
  if (Object.keys(changes).length === 0) return done(g, []);
  const data: GroupInfoSetData = {
    groupId: c.groupId,
    changes,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_INFO_SET, data));
}

function joined(
  g: ExistingGroup,
  uids: readonly string[],
  how: GroupMembersJoinedData['how'],
  actor: GroupActor,
  nowUs: number,
): NewEvent {
  const data: GroupMembersJoinedData = {
    groupId: g.info.groupId,
    members: uids.map((uid) => ({ uid, roleLevel: ROLE_MEMBER })),
    how,
    byUid: actorUid(actor),
    atUs: nowUs,
  };
  return { type: GROUP_MEMBERS_JOINED, data };
}

function decideJoin(c: JoinGroup, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  if (c.actor.kind !== 'user') throw GroupErrors.roleRequired('join a group as an administrator');
  const uid = c.actor.uid;
  if (g.members.has(uid)) throw GroupErrors.alreadyMember(c.groupId, uid);
  switch (g.info.joinPolicy) {
    case 'invite_only':
      throw GroupErrors.inviteOnly(c.groupId);
    case 'open':
      if (g.members.size >= c.maxMembers) throw GroupErrors.full(c.groupId, c.maxMembers);
      return done(g, [joined(g, [uid], 'joined', c.actor, c.nowUs)], { outcome: 'joined' });
    case 'approval': {
      // One pending application per user: asking again writes nothing (an outsider could
      // otherwise lengthen the group's stream and notify its managers at will).
      if (g.applications.has(uid)) return done(g, [], { outcome: 'applied' });
      const data: GroupAppliedData = {
        groupId: c.groupId,
        uid,
        reqMessage: c.reqMessage,
        atUs: c.nowUs,
      };
      return done(g, one(GROUP_APPLIED, data), { outcome: 'applied' });
    }
  }
}

function decideHandle(c: HandleApplication, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  requireManager(g, c.actor, 'handle join applications');
  if (!g.applications.has(c.uid)) throw GroupErrors.applicationNotFound(c.groupId, c.uid);
  const handled: GroupApplicationHandledData = {
    groupId: c.groupId,
    uid: c.uid,
    result: c.result,
    handledMsg: c.handledMsg,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  const events: NewEvent[] = [{ type: GROUP_APPLICATION_HANDLED, data: handled }];
  if (c.result === 1 && !g.members.has(c.uid)) {
    if (g.members.size >= c.maxMembers) throw GroupErrors.full(c.groupId, c.maxMembers);
    events.push(joined(g, [c.uid], 'approved', c.actor, c.nowUs));
  }
  return done(g, events);
}

function decideQuit(c: QuitGroup, state: GroupState): Decision<GroupResult> {
  const g = existing(state, c.groupId);
  if (g.groupStatus === STATUS_DISMISSED) throw GroupErrors.dismissed(c.groupId);
  const role = requireMember(g, c.actor);
  if (role === ROLE_OWNER) throw GroupErrors.ownerMustTransfer(c.groupId);
  const data: GroupMembersLeftData = {
    groupId: c.groupId,
    uids: [actorUid(c.actor)!],
    how: 'quit',
    reason: '',
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_MEMBERS_LEFT, data));
}

function decideRemove(c: RemoveMembers, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  const role = requireManager(g, c.actor, 'remove members');
  const results: UserResult[] = [];
  const removed: string[] = [];
  for (const uid of new Set(c.uids)) {
    const target = g.members.get(uid);
    const refuse = (code: number, reason: string) =>
      results.push({ uid, result: -1, code, reason });
    const rank = target ? outranked(role, target.roleLevel, 'remove') : null;
    if (!target) refuse(GroupErrors.notMember(c.groupId).code, 'not a member');
    else if (uid === actorUid(c.actor)) refuse(GroupErrors.codes.ROLE_REQUIRED, 'quit instead');
    else if (rank) {
      refuse(GroupErrors.codes.ROLE_REQUIRED, rank);
    } else {
      removed.push(uid);
      results.push({ uid, result: 0 });
    }
  }
  if (removed.length === 0) return done(g, [], { results });
  const data: GroupMembersLeftData = {
    groupId: c.groupId,
    uids: removed,
    how: c.actor.kind === 'admin' ? 'removed' : 'kicked',
    reason: c.reason,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_MEMBERS_LEFT, data), { results });
}

function decideAdd(c: AddMembers, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  const role = requireMember(g, c.actor);
  if (g.info.joinPolicy === 'invite_only' && !isManager(role)) {
    throw GroupErrors.roleRequired('invite to an invite-only group');
  }
  const results: UserResult[] = [];
  const added: string[] = [];
  let size = g.members.size;
  for (const uid of new Set(c.uids)) {
    if (c.unknown.has(uid)) {
      results.push({ uid, result: -1, code: 40401, reason: 'no such user' });
    } else if (g.members.has(uid)) {
      results.push({
        uid,
        result: -1,
        code: GroupErrors.codes.ALREADY_MEMBER,
        reason: 'already a member',
      });
    } else if (size >= c.maxMembers) {
      results.push({ uid, result: -1, code: GroupErrors.codes.FULL, reason: 'the group is full' });
    } else {
      size += 1;
      added.push(uid);
      results.push({ uid, result: 0 });
    }
  }
  if (added.length === 0) return done(g, [], { results });
  const how = c.actor.kind === 'admin' ? 'added' : 'invited';
  return done(g, [joined(g, added, how, c.actor, c.nowUs)], { results });
}

function decideTransfer(c: TransferOwner, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  requireOwner(g, c.actor, 'transfer the ownership');
  if (c.fromUid !== null && c.fromUid !== g.ownerUid) {
    throw GroupErrors.validation(`${c.fromUid} is not the owner of group ${c.groupId}`);
  }
  if (!g.members.has(c.toUid)) throw GroupErrors.targetNotMember(c.groupId, c.toUid);
  if (c.toUid === g.ownerUid) return done(g, []);
  const data: GroupOwnerTransferredData = {
    groupId: c.groupId,
    fromUid: g.ownerUid,
    toUid: c.toUid,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_OWNER_TRANSFERRED, data));
}

function decideSetRole(c: SetMemberRole, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  requireOwner(g, c.actor, 'set member roles');
  const target = g.members.get(c.uid);
  if (!target) throw GroupErrors.targetNotMember(c.groupId, c.uid);
  if (target.roleLevel === ROLE_OWNER) throw GroupErrors.ownerRoleFixed();
  if (c.roleLevel === ROLE_OWNER) {
    throw GroupErrors.validation('to make a member the owner, transfer the ownership');
  }
  if (target.roleLevel === c.roleLevel) return done(g, []);
  const data: GroupMemberRoleSetData = {
    groupId: c.groupId,
    uid: c.uid,
    roleLevel: c.roleLevel,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_MEMBER_ROLE_SET, data));
}

function decideMute(c: MuteMember, state: GroupState): Decision<GroupResult> {
  const g = changeable(state, c.groupId, c.actor);
  const role = requireManager(g, c.actor, 'mute members');
  const target = g.members.get(c.uid);
  if (!target) throw GroupErrors.targetNotMember(c.groupId, c.uid);
  const refusal = outranked(role, target.roleLevel, 'mute');
  if (refusal) throw GroupErrors.rank(refusal);
  const until = c.mutedUntilUs > c.nowUs ? c.mutedUntilUs : 0;
  if (until === 0 && target.mutedUntilUs <= c.nowUs) return done(g, []);
  const data: GroupMemberMutedData = {
    groupId: c.groupId,
    uid: c.uid,
    mutedUntilUs: until,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_MEMBER_MUTED, data));
}

function decideStatus(c: SetGroupStatus, state: GroupState): Decision<GroupResult> {
  if (c.groupStatus === STATUS_DISMISSED) {
    return decideDismiss({ ...c, kind: 'DismissGroup' }, state);
  }
  const g = existing(state, c.groupId);
  if (g.groupStatus === STATUS_DISMISSED) throw GroupErrors.dismissed(c.groupId);
  // Banning is for administrators; owners and admins may mute and unmute the whole group.
  if (c.groupStatus === STATUS_BANNED || g.groupStatus === STATUS_BANNED) {
    if (c.actor.kind !== 'admin') throw GroupErrors.adminOnly('ban or unban a group');
  } else {
    requireManager(g, c.actor, 'mute the group');
  }
  if (g.groupStatus === c.groupStatus) return done(g, []);
  const data: GroupStatusSetData = {
    groupId: c.groupId,
    status: c.groupStatus,
    byUid: actorUid(c.actor),
    atUs: c.nowUs,
  };
  return done(g, one(GROUP_STATUS_SET, data));
}

function decideDismiss(c: DismissGroup, state: GroupState): Decision<GroupResult> {
  const g = existing(state, c.groupId);
  // Who asks is checked first: an outsider learns nothing from "already dismissed".
  requireOwner(g, c.actor, 'dismiss the group');
  if (g.groupStatus === STATUS_DISMISSED) return done(g, []);
  if (g.groupStatus === STATUS_BANNED && c.actor.kind !== 'admin')
    throw GroupErrors.banned(c.groupId);
  const data: GroupDismissedData = { groupId: c.groupId, byUid: actorUid(c.actor), atUs: c.nowUs };
  return done(g, one(GROUP_DISMISSED, data));
}

export function decide(command: GroupCommand, state: GroupState): Decision<GroupResult> {
  switch (command.kind) {
    case 'CreateGroup':
      return decideCreate(command, state);
    case 'SetGroupInfo':
      return decideSetInfo(command, state);
    case 'JoinGroup':
      return decideJoin(command, state);
    case 'HandleApplication':
      return decideHandle(command, state);
    case 'QuitGroup':
      return decideQuit(command, state);
    case 'RemoveMembers':
      return decideRemove(command, state);
    case 'AddMembers':
      return decideAdd(command, state);
    case 'TransferOwner':
      return decideTransfer(command, state);
    case 'SetMemberRole':
      return decideSetRole(command, state);
    case 'MuteMember':
      return decideMute(command, state);
    case 'SetGroupStatus':
      return decideStatus(command, state);
    case 'DismissGroup':
      return decideDismiss(command, state);
    default: {
      const never: never = command;
      throw new Error(`unknown group command ${(never as GroupCommand).kind}`);
    }
  }
}

/**
 * Why `uid` may not send to the group now, or null when they may: the group exists and is not
 * dismissed or banned, they are a member, the group is not muted (owners and admins still speak)
 * and they are not muted.
 */
export function sendRefusal(state: GroupState, groupId: string, uid: string, nowUs: number) {
  if (state.status !== 'exists') return GroupErrors.notFound(groupId);
  if (state.groupStatus === STATUS_DISMISSED) return GroupErrors.dismissed(groupId);
  if (state.groupStatus === STATUS_BANNED) return GroupErrors.banned(groupId);
  const member = state.members.get(uid);
  if (!member) return GroupErrors.notMember(groupId);
  if (state.groupStatus === STATUS_MUTED && !isManager(member.roleLevel)) {
    return GroupErrors.groupMuted(groupId);
  }
  if (member.mutedUntilUs > nowUs) return GroupErrors.memberMuted(groupId, member.mutedUntilUs);
  return null;
}

/** Whether `uid` is an owner or admin of the group. */
export const managesGroup = (state: GroupState, uid: string): boolean =>
  state.status === 'exists' && isManager(state.members.get(uid)?.roleLevel ?? null);

/** The group aggregate as the stream command processor runs it. */
export const groupDecider: StreamDecider<GroupState, GroupCommand, GroupResult> = {
  initialState,
  evolve,
  decide,
  eventId: (command, index) => uuidV5(`${command.commandId}\u0000${index}`, NAMESPACE),
  // A retried command whose events the store already had (a lost connection): its answer from
  // those events.
  resultOfStored: (command, events) => {
    const version = events.length ? events[events.length - 1].revision + 1 : 0;
    let results: UserResult[] = [];
    if (command.kind === 'AddMembers' || command.kind === 'RemoveMembers') {
      const changed = new Set<string>();
      for (const e of events) {
        if (e.type === GROUP_MEMBERS_JOINED) {
          for (const m of (e.data as GroupMembersJoinedData).members) changed.add(m.uid);
        } else if (e.type === GROUP_MEMBERS_LEFT) {
          for (const uid of (e.data as GroupMembersLeftData).uids) changed.add(uid);
        }
      }
      results = [...new Set(command.uids)].map((uid) =>
        changed.has(uid) ? { uid, result: 0 } : { uid, result: -1, reason: 'not changed' },
      );
    }
    const outcome =
      command.kind === 'JoinGroup'
        ? events.some((e) => e.type === GROUP_APPLIED)
          ? 'applied'
          : 'joined'
        : 'done';
    return { groupId: command.groupId, version, outcome, results };
  },
};
