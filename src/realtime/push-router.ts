import type { RecordedEvent } from '../event-store/event-store.port';
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
export type PushEvent = 'message' | 'message_recalled' | 'ack_updated' | 'relation_updated';

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
  readonly data: MessagePush | MessageRecalledPush | AckUpdatedPush | RelationUpdatedPush;
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
 * The users of a one-to-one message, each with their talker. Group messages (session type 2) are
 * routed by membership, which the group issue adds.
 */
function privateParties(m: { senderUid: string; receiverId: string; receiverType: SessionType }) {
  if (m.receiverType !== 1) return [];
  return [
    { uid: m.receiverId, talker: m.senderUid },
    { uid: m.senderUid, talker: m.receiverId },
  ];
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
export function routeEvent(e: RecordedEvent, content = ''): Routed {
  switch (e.type) {
    case MESSAGE_SENT: {
      const m = e.data as MessageSentData;
      const view = messageView(m, content);
      const parties = privateParties(m);
      return {
        pushes: parties.map((p) => ({
          to: p.uid,
          event: 'message',
          data: { ...view, talker_id: p.talker, session_type: m.receiverType },
          skipOrigin: true,
        })),
        touched: parties.map((p) => touch(p.uid, m.receiverType, p.talker)),
      };
    }
    case MESSAGE_RECALLED: {
      const r = e.data as MessageRecalledData;
      const notice = recallNoticeView(r);
      const parties = privateParties(r);
      return {
        pushes: parties.flatMap((p): Push[] => [
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
        touched: parties.map((p) => touch(p.uid, r.receiverType, p.talker)),
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
export function sealedMessage(e: RecordedEvent): { content: string; to: string[] } | null {
  if (e.type !== MESSAGE_SENT) return null;
  const m = e.data as MessageSentData;
  return { content: m.content, to: privateParties(m).map((p) => p.uid) };
}
