/**
 * Events of a group stream (`group-<groupId>`). Type strings are frozen: changing an event's shape
 * means a new type version and an upcaster, never an edit. Messages to a group are not here: they
 * are on the group's conversation stream (`conversation-g_<groupId>`), like one-to-one messages.
 */
export const GROUP_CREATED = 'GroupCreated';
export const GROUP_INFO_SET = 'GroupInfoSet';
export const GROUP_MEMBERS_JOINED = 'GroupMembersJoined';
export const GROUP_MEMBERS_LEFT = 'GroupMembersLeft';
export const GROUP_APPLIED = 'GroupApplied';
export const GROUP_APPLICATION_HANDLED = 'GroupApplicationHandled';
export const GROUP_OWNER_TRANSFERRED = 'GroupOwnerTransferred';
export const GROUP_MEMBER_ROLE_SET = 'GroupMemberRoleSet';
export const GROUP_MEMBER_MUTED = 'GroupMemberMuted';
export const GROUP_STATUS_SET = 'GroupStatusSet';
export const GROUP_DISMISSED = 'GroupDismissed';

export const GROUP_EVENT_TYPES: ReadonlySet<string> = new Set([
  GROUP_CREATED,
  GROUP_INFO_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_APPLIED,
  GROUP_APPLICATION_HANDLED,
  GROUP_OWNER_TRANSFERRED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBER_MUTED,
  GROUP_STATUS_SET,
  GROUP_DISMISSED,
]);

/** OpenIM's role levels: 1 ordinary member, 2 owner, 3 admin. */
export const ROLE_MEMBER = 1;
export const ROLE_OWNER = 2;
export const ROLE_ADMIN = 3;
export type RoleLevel = typeof ROLE_MEMBER | typeof ROLE_OWNER | typeof ROLE_ADMIN;

/**
 * OpenIM's group status: 0 normal, 1 banned (reads, and members may still quit; every other
 * change is an administrator's), 2 dismissed, 3 muted.
 */
export const STATUS_NORMAL = 0;
export const STATUS_BANNED = 1;
export const STATUS_DISMISSED = 2;
export const STATUS_MUTED = 3;
export type GroupStatus =
  typeof STATUS_NORMAL | typeof STATUS_BANNED | typeof STATUS_DISMISSED | typeof STATUS_MUTED;

/**
 * Who may enter: `open` anyone who asks; `approval` an application an owner or admin handles
 * (members' invitations enter at once); `invite_only` only owners' and admins' invitations.
 */
export type JoinPolicy = 'open' | 'approval' | 'invite_only';
export const JOIN_POLICIES: readonly JoinPolicy[] = ['open', 'approval', 'invite_only'];

/** Who did it: a user, or an administrator through the admin key (OpenIM's "app manager"). */
export type GroupActor =
  { readonly kind: 'user'; readonly uid: string } | { readonly kind: 'admin' };

/** The fields of a group a `set info` may change. */
export interface GroupInfoFields {
  readonly name?: string;
  readonly faceUrl?: string;
  readonly introduction?: string;
  readonly notification?: string;
  readonly ex?: string;
  readonly joinPolicy?: JoinPolicy;
}

/**
 * Each info field's name on the wire (snake_case, as pushes and the native API show it), which is
 * also its column in rm_groups.
 */
export const INFO_FIELD_NAMES: Readonly<Record<keyof GroupInfoFields, string>> = {
  name: 'name',
  faceUrl: 'face_url',
  introduction: 'introduction',
  notification: 'notification',
  ex: 'ex',
  joinPolicy: 'join_policy',
};

/** The fields a change sets, by wire name (a field left out or null sets nothing). */
export function infoChangesByName(changes: GroupInfoFields): Record<string, string> {
  return Object.fromEntries(
    Object.entries(changes)
      .filter(([k, v]) => v !== undefined && v !== null && k in INFO_FIELD_NAMES)
      .map(([k, v]) => [INFO_FIELD_NAMES[k as keyof GroupInfoFields], String(v)]),
  );
}

export interface GroupCreatedData {
  readonly groupId: string;
  readonly name: string;
  readonly faceUrl: string;
  readonly introduction: string;
  readonly notification: string;
  readonly ex: string;
  /** The client's group type, kept as given (OpenIM's GroupType, TeamTalk's 1 normal 2 temporary). */
  readonly groupType: number;
  /** TeamTalk's temporary group: any user may create one; normal groups are created by admins. */
  readonly temporary: boolean;
  readonly joinPolicy: JoinPolicy;
  readonly ownerUid: string;
  /** null when an administrator created it. */
  readonly creatorUid: string | null;
  /** Everyone in the group at creation, the owner included. */
  readonly members: readonly { readonly uid: string; readonly roleLevel: RoleLevel }[];
  readonly atUs: number;
}

export interface GroupInfoSetData {
  readonly groupId: string;
  readonly changes: GroupInfoFields;
  readonly byUid: string | null;
  readonly atUs: number;
}

/** How members came in. */
export type JoinHow = 'joined' | 'invited' | 'approved' | 'added';

export interface GroupMembersJoinedData {
  readonly groupId: string;
  readonly members: readonly { readonly uid: string; readonly roleLevel: RoleLevel }[];
  readonly how: JoinHow;
  /** The inviter, approver or adder, or the user who joined alone; null for an administrator. */
  readonly byUid: string | null;
  readonly atUs: number;
}

/** How members went. */
export type LeaveHow = 'quit' | 'kicked' | 'removed';

export interface GroupMembersLeftData {
  readonly groupId: string;
  readonly uids: readonly string[];
  readonly how: LeaveHow;
  readonly reason: string;
  readonly byUid: string | null;
  readonly atUs: number;
}

export interface GroupAppliedData {
  readonly groupId: string;
  readonly uid: string;
  readonly reqMessage: string;
  readonly atUs: number;
}

/** 1 accepted, -1 refused (OpenIM's HandleResult). */
export type HandleResult = 1 | -1;

export interface GroupApplicationHandledData {
  readonly groupId: string;
  readonly uid: string;
  readonly result: HandleResult;
  readonly handledMsg: string;
  readonly byUid: string | null;
  readonly atUs: number;
}

export interface GroupOwnerTransferredData {
  readonly groupId: string;
  readonly fromUid: string;
  readonly toUid: string;
  readonly byUid: string | null;
  readonly atUs: number;
}

export interface GroupMemberRoleSetData {
  readonly groupId: string;
  readonly uid: string;
  readonly roleLevel: typeof ROLE_MEMBER | typeof ROLE_ADMIN;
  readonly byUid: string | null;
  readonly atUs: number;
}

export interface GroupMemberMutedData {
  readonly groupId: string;
  readonly uid: string;
  /** Microseconds; 0 lifts the mute. */
  readonly mutedUntilUs: number;
  readonly byUid: string | null;
  readonly atUs: number;
}

export interface GroupStatusSetData {
  readonly groupId: string;
  readonly status: typeof STATUS_NORMAL | typeof STATUS_BANNED | typeof STATUS_MUTED;
  readonly byUid: string | null;
  readonly atUs: number;
}

export interface GroupDismissedData {
  readonly groupId: string;
  readonly byUid: string | null;
  readonly atUs: number;
}

/**
 * On the owner's `sessions-<uid>` stream: how far they have read their group assistant's
 * notices (Bilibili's AckAssisMsg). Read progress only moves forward.
 */
export const GROUP_ASSISTANT_ACKED = 'GroupAssistantAcked';

export interface GroupAssistantAckedData {
  readonly ownerUid: string;
  readonly ackSeqno: number;
  readonly atUs: number;
}

export const groupStream = (groupId: string): string => `group-${groupId}`;

/** The conversation of a group's messages: its own stream, so sends never load membership. */
export const groupConversationId = (groupId: string): string => `g_${groupId}`;

/** A group id: 1-64 characters of A-Z a-z 0-9 _ (no dash: a stream is `category-id`). */
export const GROUP_ID_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
export const GROUP_ID_RULE = 'a group id is 1-64 characters of A-Z a-z 0-9 _';

/** In `at_uids`: mention everyone (owners and admins only). */
export const AT_ALL = '@all';
