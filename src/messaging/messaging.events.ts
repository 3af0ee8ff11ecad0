/**
 * Events of a conversation stream (`conversation-<id>`). Type strings are frozen: changing an
 * event's shape means a new type version and an upcaster, never an edit.
 */
export const MESSAGE_SENT = 'MessageSent';
export const MESSAGE_RECALLED = 'MessageRecalled';

/** The seed's msg_type of a recall notice: its content is the recalled message's msg_key. */
export const MSG_TYPE_RECALL = 5;

/** Session types, as in the seed: 1 one-to-one, 2 group. */
export type SessionType = 1 | 2;

/** A message as its sender asks for it: what a send command carries and its event keeps. */
export interface MessageDraft {
  readonly senderUid: string;
  readonly receiverType: SessionType;
  readonly receiverId: string;
  readonly msgType: number;
  /**
   * The seed's content (JSON text whose shape depends on `msgType`), sealed with the sender's data
   * key (src/crypto/key-ring.ts): an `e1.` envelope. Events written before encryption hold plain
   * text here; readers tell them apart with `KeyRing.isEnvelope`.
   */
  readonly content: string;
  readonly atUids: readonly string[] | null;
  readonly msgSource: number;
  readonly newFaceVersion: number;
  /** The client's id for this send (a UUID); a retry with the same one returns this message. */
  readonly devId: string;
  /** A system notice's business code (`<main>_<sub>`), as in the seed; absent otherwise. */
  readonly notifyCode?: string;
}

export interface MessageSentData extends MessageDraft {
  readonly conversationId: string;
  /** Consecutive per conversation, from 1. */
  readonly seqno: number;
  /** Unique 64-bit id, as a decimal string. */
  readonly msgKey: string;
  /** Send time in microseconds since the epoch. */
  readonly sentAtUs: number;
}

/**
 * A recall: a notice message of its own (msg_type 5, next seqno, its own msg_key, content the
 * recalled msg_key, as in the seed) plus the recalled message's new status. A system recall
 * (`system`, the seed's `sys_cancel`) hides the message entirely; a sender's recall leaves it in
 * history with msg_status 1 and no content.
 */
export interface MessageRecalledData {
  readonly conversationId: string;
  readonly senderUid: string;
  readonly receiverType: SessionType;
  readonly receiverId: string;
  /** The recalled message. */
  readonly targetMsgKey: string;
  readonly targetSeqno: number;
  readonly system: boolean;
  /** The notice's own seqno, msg_key and time. */
  readonly seqno: number;
  readonly msgKey: string;
  readonly sentAtUs: number;
  readonly devId: string;
  readonly msgSource: number;
}
