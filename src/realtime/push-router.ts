import type { RecordedEvent } from '../event-store/event-store.port';
import {
  AT_ALL,
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_CREATED,
  GROUP_DISMISSED,
  GROUP_EVENT_TYPES,
  GROUP_INFO_SET,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
  GroupApplicationHandledData,
  GroupAppliedData,
  GroupCreatedData,
  GroupInfoSetData,
  GroupMemberMutedData,
  GroupMemberRoleSetData,
  GroupMembersJoinedData,
  GroupMembersLeftData,
  GroupOwnerTransferredData,
  GroupStatusSetData,
  infoChangesByName,
  STATUS_DISMISSED,
} from '../groups/groups.events';
import type { MessageView } from '../messaging/message.view';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
  MSG_TYPE_RECALL,
  SessionType,
} from '../messaging/messaging.events';
import {
  BLOCKED,
  FOLLOWED,
  PRIVACY_CHANGED,
  PrivacyChangedData,
  RelationChangedData,
  UNBLOCKED,
  UNFOLLOWED,
} from '../relations/relations.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SessionAckedData,
  SessionDndSetData,
  SESSIONS_REMOVED,
  SessionsRemovedData,
  SessionTopSetData,
  SessionTrustSetData,
} from '../sessions/sessions.events';

/** Server → client events that come straight from one event of the log. */
export type PushEvent =
  | 'message'
  | 'message_recalled'
  | 'ack_updated'
  | 'relation_updated'
  | 'group_updated'
  | 'group_member_changed'
  | 'group_application';

/** A group's info, owner or status changed (`version` is the group's version after it). */
export interface GroupUpdatedPush {
  group_id: string;
  version: number;
  op: 'created' | 'info' | 'owner' | 'status' | 'dismissed';
  /** The changed fields (info), the new owner (owner) or status (status, dismissed). */
  changes?: Record<string, string>;
  owner_uid?: string;
  status?: number;
  by_uid: string | null;
}

/** Members came, went, or changed role or mute. */
export interface GroupMemberChangedPush {
  group_id: string;
  version: number;
  op: 'joined' | 'left' | 'role' | 'muted';
  uids: string[];
  /** joined: created, joined, invited, approved, added; left: quit, kicked, removed. */
  how?: string;
  reason?: string;
  role_level?: number;
  /** Milliseconds; 0 when lifted. */
  muted_until?: number;
  by_uid: string | null;
}

/** An application to join: made (to the group's owner and admins) or handled (and its maker). */
export interface GroupApplicationPush {
  group_id: string;
  op: 'applied' | 'handled';
  uid: string;
  req_message?: string;
  /** handled: 1 accepted, -1 refused. */
  result?: number;
  handled_msg?: string;
  by_uid?: string | null;
}

/**
 * Who hears of a group's events. Live routing answers with the members connected to this node
 * (as of the event, before it applies); a replay for one user with that user, when the event
 * falls within their membership.
 */
export interface GroupAudience {
  /** The recipients of the group's message with this seqno. */
  ofMessage(groupId: string, seqno: number): readonly string[];
  /** The members to tell of the group's change at `revision` of its stream. */
  ofChange(groupId: string, revision: number): readonly string[];
  /** The owners and admins among them. */
  managers(groupId: string, revision: number): readonly string[];
}

/** No group reaches anyone. */
export const NO_GROUPS: GroupAudience = {
  ofMessage: () => [],
  ofChange: () => [],
  managers: () => [],
};

/** A message as a recipient sees it: the seed's message object from their side of the session. */
export interface MessagePush extends MessageView {
  talker_id: string;
  session_type: SessionType;
}

export interface MessageRecalledPush {
  talker_id: string;
  session_type: SessionType;
  /** The recalled message. */
  msg_key: string;
  msg_seqno: number;
  /** 1 when the system recalled it (gone from history), 0 when its sender did. */
  sys_cancel: 0 | 1;
  /** The recall notice (msg_type 5), which is a message of its own. */
  notice_msg_key: string;
  notice_msg_seqno: number;
}

export interface AckUpdatedPush {
  talker_id: string;
  session_type: SessionType;
  ack_seqno: number;
}

export type RelationUpdatedPush =
  | {
      op: 'follow' | 'unfollow' | 'block' | 'unblock';
      /** Who changed the relation, and towards whom. */
      uid: string;
      target_uid: string;
      /** The actor's relation op-log number (SyncRelation), 0 when sent to the target. */
      oplog_seqno: number;
    }
  | { op: 'privacy'; uid: string; followed_only: 0 | 1; intercept: 0 | 1 };

/** One delivery: `event` with `data` to every connection of user `to`. */
export interface Push {
  readonly to: string;
  readonly event: PushEvent;
  readonly data:
    | MessagePush
    | MessageRecalledPush
    | AckUpdatedPush
    | RelationUpdatedPush
    | GroupUpdatedPush
    | GroupMemberChangedPush
    | GroupApplicationPush;
  /**
   * Leave out the connection whose command caused the event: it already has the answer in its
   * ack callback. (Its user's other devices still get it.)
   */
  readonly skipOrigin: boolean;
}

/** A session whose read-model row the event changes: its owner gets `session_updated` after. */
export interface SessionTouch {
  readonly owner: string;
  readonly sessionType: SessionType;
  readonly talkerId: string;
}

export interface Routed {
  readonly pushes: Push[];
  readonly touched: SessionTouch[];
}

/**
 * The users a message goes to, each with their talker: both users of a one-to-one message; the
 * group's audience of a group message, whose talker is the group.
 */
function parties(
  m: { senderUid: string; receiverId: string; receiverType: SessionType; seqno: number },
  groups: GroupAudience,
) {
  if (m.receiverType === 2) {
    return groups.ofMessage(m.receiverId, m.seqno).map((uid) => ({ uid, talker: m.receiverId }));
  }
  return [
    { uid: m.receiverId, talker: m.senderUid },
    { uid: m.senderUid, talker: m.receiverId },
  ];
}

/**
 * The sessions a message changes that are worth a `session_updated`: both sides of a one-to-one
 * message; in a group only the sender's (read up to their own message) and the mentioned
 * members' (at_seqno), so a group message does not cost a session read per member. Members
 * count a group's unread from the `message` pushes themselves (docs/realtime.md).
 */
function touchedBy(
  m: { senderUid: string; receiverId: string; receiverType: SessionType },
  atUids: readonly string[] | null,
  recipients: readonly { uid: string; talker: string }[],
): SessionTouch[] {
  if (m.receiverType !== 2) return recipients.map((p) => touch(p.uid, 1, p.talker));
  const mentioned = new Set(atUids ?? []);
  return recipients
    .filter((p) => p.uid === m.senderUid || mentioned.has(p.uid) || mentioned.has(AT_ALL))
    .map((p) => touch(p.uid, 2, m.receiverId));
}

/** The message object of a send, as history shows it; `content` is the opened text. */
export function messageView(m: MessageSentData, content: string): MessageView {
  return {
    sender_uid: m.senderUid,
    receiver_type: m.receiverType,
    receiver_id: m.receiverId,
    msg_type: m.msgType,
    content,
    msg_seqno: m.seqno,
    timestamp: Math.floor(m.sentAtUs / 1_000_000),
    at_uids: m.atUids ? [...m.atUids] : null,
    msg_key: m.msgKey,
    msg_status: 0,
    notify_code: m.notifyCode ?? '',
    new_face_version: m.newFaceVersion,
    msg_source: m.msgSource,
  };
}

/** The notice a recall adds (msg_type 5, content the recalled msg_key), as history shows it. */
export function recallNoticeView(r: MessageRecalledData): MessageView {
  return {
    sender_uid: r.senderUid,
    receiver_type: r.receiverType,
    receiver_id: r.receiverId,
    msg_type: MSG_TYPE_RECALL,
    content: r.targetMsgKey,
    msg_seqno: r.seqno,
    timestamp: Math.floor(r.sentAtUs / 1_000_000),
    at_uids: null,
    msg_key: r.msgKey,
    msg_status: 0,
    notify_code: '',
    new_face_version: 0,
    msg_source: r.msgSource,
    ...(r.system ? { sys_cancel: true as const } : {}),
  };
}

const RELATION_OPS: Record<string, 'follow' | 'unfollow' | 'block' | 'unblock'> = {
  [FOLLOWED]: 'follow',
  [UNFOLLOWED]: 'unfollow',
  [BLOCKED]: 'block',
  [UNBLOCKED]: 'unblock',
};

/**
 * Who must hear of an event, and what: pure, so every API node routes the log alike. `content` is
 * the opened content of a `MessageSent` (the empty string when its sender's key is destroyed).
 */
export function routeEvent(e: RecordedEvent, content = '', groups = NO_GROUPS): Routed {
  if (GROUP_EVENT_TYPES.has(e.type)) return routeGroupEvent(e, groups);
  switch (e.type) {
    case MESSAGE_SENT: {
      const m = e.data as MessageSentData;
      const view = messageView(m, content);
      const to = parties(m, groups);
      // Every member sees a group message alike: one payload for all, encoded once.
      const shared =
        m.receiverType === 2
          ? { ...view, talker_id: m.receiverId, session_type: 2 as const }
          : null;
      return {
        pushes: to.map((p) => ({
          to: p.uid,
          event: 'message',
          data: shared ?? { ...view, talker_id: p.talker, session_type: m.receiverType },
          skipOrigin: true,
        })),
        touched: touchedBy(m, m.atUids, to),
      };
    }
    case MESSAGE_RECALLED: {
      const r = e.data as MessageRecalledData;
      const notice = recallNoticeView(r);
      const to = parties(r, groups);
      return {
        pushes: to.flatMap((p): Push[] => [
          {
            to: p.uid,
            event: 'message',
            data: { ...notice, talker_id: p.talker, session_type: r.receiverType },
            skipOrigin: true,
          },
          {
            to: p.uid,
            event: 'message_recalled',
            data: {
              talker_id: p.talker,
              session_type: r.receiverType,
              msg_key: r.targetMsgKey,
              msg_seqno: r.targetSeqno,
              sys_cancel: r.system ? 1 : 0,
              notice_msg_key: r.msgKey,
              notice_msg_seqno: r.seqno,
            },
            skipOrigin: false,
          },
        ]),
        touched: touchedBy(r, null, to),
      };
    }
    case SESSION_ACKED: {
      const a = e.data as SessionAckedData;
      return {
        pushes: a.acks.map((ack) => ({
          to: a.ownerUid,
          event: 'ack_updated',
          data: { talker_id: ack.talkerId, session_type: ack.sessionType, ack_seqno: ack.ackSeqno },
          skipOrigin: true,
        })),
        touched: a.acks.map((ack) => touch(a.ownerUid, ack.sessionType, ack.talkerId)),
      };
    }
    case SESSION_TOP_SET:
    case SESSION_DND_SET:
    case SESSION_TRUST_SET: {
      const s = e.data as SessionTopSetData | SessionDndSetData | SessionTrustSetData;
      return { pushes: [], touched: [touch(s.ownerUid, s.sessionType, s.talkerId)] };
    }
    case SESSIONS_REMOVED: {
      const s = e.data as SessionsRemovedData;
      return {
        pushes: [],
        touched: s.sessions.map((r) => touch(s.ownerUid, r.sessionType, r.talkerId)),
      };
    }
    case FOLLOWED:
    case UNFOLLOWED:
    case BLOCKED:
    case UNBLOCKED: {
      const r = e.data as RelationChangedData;
      const op = RELATION_OPS[e.type];
      const data = { op, uid: r.uid, target_uid: r.targetUid, oplog_seqno: r.oplogSeqno };
      const actor: Push = { to: r.uid, event: 'relation_updated', data, skipOrigin: false };
      // The target hears of follows (their fan list); never of blocks, which are private.
      const fan = op === 'follow' || op === 'unfollow';
      return {
        pushes: fan
          ? [actor, { ...actor, to: r.targetUid, data: { ...data, oplog_seqno: 0 } }]
          : [actor],
        // is_follow of the actor's session with the target changes.
        touched: fan ? [touch(r.uid, 1, r.targetUid)] : [],
      };
    }
    case PRIVACY_CHANGED: {
      const p = e.data as PrivacyChangedData;
      return {
        pushes: [
          {
            to: p.uid,
            event: 'relation_updated',
            data: {
              op: 'privacy',
              uid: p.uid,
              followed_only: p.followedOnly ? 1 : 0,
              intercept: p.intercept ? 1 : 0,
            },
            skipOrigin: false,
          },
        ],
        touched: [],
      };
    }
    default:
      return { pushes: [], touched: [] };
  }
}

function touch(owner: string, sessionType: SessionType, talkerId: string): SessionTouch {
  return { owner, sessionType, talkerId };
}

/**
 * The sealed content of a `MessageSent` and the users it goes to, so that a node opens only the
 * content of messages someone connected to it will receive; null for other events.
 */
export function sealedMessage(
  e: RecordedEvent,
  groups: GroupAudience = NO_GROUPS,
): { content: string; to: string[] } | null {
  if (e.type !== MESSAGE_SENT) return null;
  const m = e.data as MessageSentData;
  return { content: m.content, to: parties(m, groups).map((p) => p.uid) };
}

/** The group a group event or group message belongs to, or null. */
export function groupOf(e: RecordedEvent): string | null {
  if (GROUP_EVENT_TYPES.has(e.type)) return (e.data as { groupId: string }).groupId;
  if (e.type === MESSAGE_SENT || e.type === MESSAGE_RECALLED) {
    const m = e.data as { receiverType: number; receiverId: string };
    return m.receiverType === 2 ? m.receiverId : null;
  }
  return null;
}

/** Pushes of a group event: to its audience before the event, plus the users it names. */
function routeGroupEvent(e: RecordedEvent, groups: GroupAudience): Routed {
  const d = e.data as { groupId: string; byUid?: string | null };
  const groupId = d.groupId;
  // Every event of a group's stream moves its version by one (TeamTalk's group version).
  const version = e.revision + 1;
  const by_uid = d.byUid ?? null;
  const audience = groups.ofChange(groupId, e.revision);
  const to = (uids: Iterable<string>, event: PushEvent, data: Push['data']): Routed => ({
    pushes: [...new Set(uids)].map((uid) => ({ to: uid, event, data, skipOrigin: false })),
    touched: [],
  });
  const updated = (data: Omit<GroupUpdatedPush, 'group_id' | 'version' | 'by_uid'>) =>
    to(audience, 'group_updated', { group_id: groupId, version, by_uid, ...data });
  /** A change of the members `uids`; those who joined or left hear of it too. */
  const memberChanged = (
    uids: readonly string[],
    data: Omit<GroupMemberChangedPush, 'group_id' | 'version' | 'by_uid' | 'uids'>,
  ) =>
    to(
      data.op === 'joined' || data.op === 'left' ? [...audience, ...uids] : audience,
      'group_member_changed',
      { group_id: groupId, version, by_uid, uids: [...uids], ...data },
    );
  const application = (uid: string, data: Omit<GroupApplicationPush, 'group_id' | 'uid'>) =>
    to([...groups.managers(groupId, e.revision), uid], 'group_application', {
      group_id: groupId,
      uid,
      ...data,
    });
  switch (e.type) {
    case GROUP_CREATED: {
      const c = e.data as GroupCreatedData;
      // Its audience is everyone it names, none of whom was in the group before.
      const data = { group_id: groupId, version, op: 'created' as const, by_uid: c.creatorUid };
      return to(
        c.members.map((m) => m.uid),
        'group_updated',
        data,
      );
    }
    case GROUP_INFO_SET:
      return updated({
        op: 'info',
        changes: infoChangesByName((e.data as GroupInfoSetData).changes),
      });
    case GROUP_OWNER_TRANSFERRED:
      return updated({ op: 'owner', owner_uid: (e.data as GroupOwnerTransferredData).toUid });
    case GROUP_STATUS_SET:
      return updated({ op: 'status', status: (e.data as GroupStatusSetData).status });
    case GROUP_DISMISSED:
      return updated({ op: 'dismissed', status: STATUS_DISMISSED });
    case GROUP_MEMBERS_JOINED: {
      const j = e.data as GroupMembersJoinedData;
      return memberChanged(
        j.members.map((m) => m.uid),
        { op: 'joined', how: j.how },
      );
    }
    case GROUP_MEMBERS_LEFT: {
      const l = e.data as GroupMembersLeftData;
      return memberChanged(l.uids, { op: 'left', how: l.how, reason: l.reason });
    }
    case GROUP_MEMBER_ROLE_SET: {
      const r = e.data as GroupMemberRoleSetData;
      return memberChanged([r.uid], { op: 'role', role_level: r.roleLevel });
    }
    case GROUP_MEMBER_MUTED: {
      const m = e.data as GroupMemberMutedData;
      const muted_until = Math.floor(m.mutedUntilUs / 1000);
      return memberChanged([m.uid], { op: 'muted', muted_until });
    }
    case GROUP_APPLIED: {
      const a = e.data as GroupAppliedData;
      return application(a.uid, { op: 'applied', req_message: a.reqMessage });
    }
    case GROUP_APPLICATION_HANDLED: {
      const h = e.data as GroupApplicationHandledData;
      return application(h.uid, {
        op: 'handled',
        result: h.result,
        handled_msg: h.handledMsg,
        by_uid,
      });
    }
    default:
      return { pushes: [], touched: [] };
  }
}
