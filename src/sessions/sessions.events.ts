import type { SessionType } from '../messaging/messaging.events';

/**
 * Events of a user's session settings and read progress, on their own stream (`sessions-<uid>`),
 * apart from the relation stream so that frequent read acks never lengthen what a relation check
 * loads. Type strings are frozen.
 */
export const SESSION_ACKED = 'SessionAcked';
export const SESSION_TOP_SET = 'SessionTopSet';
export const SESSION_DND_SET = 'SessionDndSet';
export const SESSIONS_REMOVED = 'SessionsRemoved';
export const SESSION_TRUST_SET = 'SessionTrustSet';

export const sessionsStream = (uid: string): string => `sessions-${uid}`;

export interface SessionRef {
  readonly sessionType: SessionType;
  readonly talkerId: string;
}

/** Read progress of one or more sessions (one for update_ack, many for UpdateUnflwRead). */
export interface SessionAckedData {
  readonly ownerUid: string;
  readonly acks: readonly (SessionRef & { readonly ackSeqno: number })[];
  readonly atUs: number;
}

/** Pinned at `topTs` (microseconds), or unpinned when it is 0. */
export interface SessionTopSetData extends SessionRef {
  readonly ownerUid: string;
  readonly topTs: number;
}

export interface SessionDndSetData extends SessionRef {
  readonly ownerUid: string;
  readonly dnd: boolean;
}

/**
 * Sessions removed from the list, each up to the seqno it had: hidden until a newer message
 * arrives, and read up to there.
 */
export interface SessionsRemovedData {
  readonly ownerUid: string;
  readonly sessions: readonly (SessionRef & { readonly uptoSeqno: number })[];
  readonly atUs: number;
}

/** A session trusted (`is_trust` 1): no longer intercepted though its talker is not followed. */
export interface SessionTrustSetData extends SessionRef {
  readonly ownerUid: string;
  readonly trusted: boolean;
}
