/**
 * Events of a conversation stream (`conversation-<id>`). Type strings are frozen: changing an
 * event's shape means a new type version and an upcaster, never an edit.
 */
export const MESSAGE_SENT = 'MessageSent';

/** Session types, as in the seed: 1 one-to-one, 2 group. */
export type SessionType = 1 | 2;

/** A message as its sender asks for it: what a send command carries and its event keeps. */
export interface MessageDraft {
  readonly senderUid: string;
  readonly receiverType: SessionType;
  readonly receiverId: string;
  readonly msgType: number;
  /** The seed's content: JSON text whose shape depends on `msgType`. */
  readonly content: string;
  readonly atUids: readonly string[] | null;
  readonly msgSource: number;
  readonly newFaceVersion: number;
  /** The client's id for this send (a UUID); a retry with the same one returns this message. */
  readonly devId: string;
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
