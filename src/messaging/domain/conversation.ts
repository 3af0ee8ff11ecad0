import { Errors } from '../../common/errors';
import { uuidV5 } from '../../common/ids';
import { RecentWindow } from '../../common/recent-window';
import type { Decision, NewEvent, StreamDecider } from '../../common/stream-command-processor';
import type { RecordedEvent } from '../../event-store/event-store.port';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageDraft,
  MessageRecalledData,
  MessageSentData,
  SessionType,
} from '../messaging.events';

/**
 * A conversation: one stream (`conversation-<id>`) whose messages get consecutive sequence numbers.
 * A one-to-one conversation's id is derived from the sorted pair of users, so both sides name the
 * same stream without a lookup.
 */

/** How many recent sends are remembered to answer a retried dev_id from memory. */
export const RECENT_SENDS = 256;

export interface SentRef {
  readonly msgKey: string;
  readonly seqno: number;
  readonly sentAtUs: number;
}

export interface RecentMessage {
  readonly seqno: number;
  readonly senderUid: string;
  readonly sentAtUs: number;
  readonly recalled: boolean;
}

export type ConversationState =
  | { readonly status: 'empty' }
  | {
      readonly status: 'active';
      readonly lastSeqno: number;
      /**
       * The last {@link RECENT_SENDS} messages, by msg_key: which (sender, dev_id) produced them
       * (a retry's answer; keyed by sender too, since both users write to the stream), what a
       * recall may target, and who has written lately (the one-message-before-a-reply rule). Only
       * this suffix counts, so a state folded from the whole stream and one loaded from its tail
       * decide alike.
       */
      readonly messages: RecentWindow<WindowEntry>;
    };

/** A message in the conversation's recent window. */
export interface WindowEntry extends RecentMessage, SentRef {
  /** sender and dev_id of the send that produced it. */
  readonly devKey: string;
}

export interface SendMessage extends MessageDraft {
  readonly kind: 'SendMessage';
  readonly conversationId: string;
  /** Decided outside: the key the message gets if it is new, and the time of sending. */
  readonly msgKey: string;
  readonly nowUs: number;
  /** Looked up outside (the receiver's relations): lifts the one-message rule. */
  readonly receiverFollowsSender: boolean;
  /** A system account's notice: no one-message rule. */
  readonly system: boolean;
}

export interface RecallMessage {
  readonly kind: 'RecallMessage';
  readonly conversationId: string;
  readonly senderUid: string;
  readonly receiverType: SessionType;
  readonly receiverId: string;
  readonly targetMsgKey: string;
  /** The notice's msg_key and time, decided outside. */
  readonly msgKey: string;
  readonly nowUs: number;
  readonly devId: string;
  readonly msgSource: number;
  /** A system recall (sys_cancel): any message, any age. */
  readonly system: boolean;
  readonly windowUs: number;
  /**
   * The target as the read model has it, for a system recall of a message older than the recent
   * suffix this state holds.
   */
  readonly knownTarget?: RecentMessage;
}

export type ConversationCommand = SendMessage | RecallMessage;

export interface SendResult extends SentRef {
  readonly conversationId: string;
  /** True when this dev_id was sent before: the first send's message is returned. */
  readonly duplicate: boolean;
}

/**
 * Thrown when a recall names a msg_key the conversation's recent suffix does not hold: the handler
 * tells "older than the window" (21041) from "no such message" (10005) with the read model.
 */
export class RecallTargetUnknown extends Error {
  constructor(readonly msgKey: string) {
    super(`msg_key ${msgKey} is not among the conversation's recent messages`);
  }
}

/** Namespace of the event ids of sends (a random constant: only its stability matters). */
const SEND_NAMESPACE = '6f1c8e52-3b0a-4f7e-9d51-2c4a8b7e0f13';

export function privateConversationId(a: string, b: string): string {
  // '~' cannot appear in a user id, so the pair is unambiguous.
  return a < b ? `${a}~${b}` : `${b}~${a}`;
}

export const conversationStream = (conversationId: string): string =>
  `conversation-${conversationId}`;

const sendKey = (senderUid: string, devId: string): string => `${senderUid}\u0000${devId}`;

export function initialState(): ConversationState {
  return { status: 'empty' };
}

const emptyWindow = () => RecentWindow.empty<WindowEntry>(RECENT_SENDS, (e) => e.msgKey);

function appended(state: ConversationState, entry: WindowEntry): ConversationState {
  const window = state.status === 'active' ? state.messages : emptyWindow();
  return { status: 'active', lastSeqno: entry.seqno, messages: window.push(entry) };
}

export function evolve(state: ConversationState, event: NewEvent): ConversationState {
  switch (event.type) {
    case MESSAGE_SENT: {
      const m = event.data as MessageSentData;
      return appended(state, {
        msgKey: m.msgKey,
        seqno: m.seqno,
        senderUid: m.senderUid,
        sentAtUs: m.sentAtUs,
        devKey: sendKey(m.senderUid, m.devId),
        recalled: false,
      });
    }
    case MESSAGE_RECALLED: {
      const r = event.data as MessageRecalledData;
      const next = appended(state, {
        msgKey: r.msgKey,
        seqno: r.seqno,
        senderUid: r.senderUid,
        sentAtUs: r.sentAtUs,
        devKey: sendKey(r.senderUid, r.devId),
        recalled: true, // a notice cannot itself be recalled
      });
      if (next.status !== 'active') return next;
      return {
        ...next,
        messages: next.messages.update(r.targetMsgKey, (t) => ({ ...t, recalled: true })),
      };
    }
    default:
      return state;
  }
}

/** PostgreSQL text and jsonb hold neither U+0000 nor unpaired surrogates. */
export function isStorableText(text: string): boolean {
  return text.isWellFormed() && !text.includes('\u0000');
}

/** The message a sender's dev_id produced, when it is among the recent sends. */
export function recentSend(
  state: ConversationState,
  senderUid: string,
  devId: string,
): SentRef | undefined {
  if (state.status !== 'active') return undefined;
  const key = sendKey(senderUid, devId);
  const e = state.messages.find((m) => m.devKey === key);
  return e ? { msgKey: e.msgKey, seqno: e.seqno, sentAtUs: e.sentAtUs } : undefined;
}

function earlierSend(
  state: ConversationState,
  senderUid: string,
  devId: string,
  conversationId: string,
): Decision<SendResult> | null {
  const earlier = recentSend(state, senderUid, devId);
  return earlier ? { events: [], result: { ...earlier, conversationId, duplicate: true } } : null;
}

/** Whether `uid` wrote one of the conversation's recent messages (notices included). */
function hasWritten(state: ConversationState, uid: string): boolean {
  return state.status === 'active' && state.messages.find((m) => m.senderUid === uid) !== undefined;
}

function decideSend(command: SendMessage, state: ConversationState): Decision<SendResult> {
  const { conversationId } = command;
  if (command.receiverType === 1 && command.receiverId === command.senderUid) {
    throw Errors.sendToSelf();
  }
  const earlier = earlierSend(state, command.senderUid, command.devId, conversationId);
  if (earlier) return earlier;
  if (command.receiverType === 1 && !command.system && !command.receiverFollowsSender) {
    if (hasWritten(state, command.senderUid) && !hasWritten(state, command.receiverId)) {
      throw Errors.oneMessageBeforeReply();
    }
  }
  const seqno = (state.status === 'active' ? state.lastSeqno : 0) + 1;
  const { kind, nowUs, receiverFollowsSender, system, ...draft } = command;
  const data: MessageSentData = { ...draft, seqno, sentAtUs: nowUs };
  return {
    events: [{ type: MESSAGE_SENT, data }],
    result: { msgKey: command.msgKey, seqno, sentAtUs: nowUs, conversationId, duplicate: false },
  };
}

function decideRecall(command: RecallMessage, state: ConversationState): Decision<SendResult> {
  const { conversationId } = command;
  const earlier = earlierSend(state, command.senderUid, command.devId, conversationId);
  if (earlier) return earlier;
  const target =
    (state.status === 'active' ? state.messages.get(command.targetMsgKey) : undefined) ??
    (command.system ? command.knownTarget : undefined);
  if (!target) throw new RecallTargetUnknown(command.targetMsgKey);
  if (!command.system && target.senderUid !== command.senderUid) {
    throw Errors.forbidden('only the sender may recall a message');
  }
  if (target.recalled) throw Errors.alreadyRecalled(command.targetMsgKey);
  if (!command.system && command.nowUs - target.sentAtUs > command.windowUs) {
    throw Errors.recallWindowPassed(Math.floor(command.windowUs / 1_000_000));
  }
  const seqno = (state.status === 'active' ? state.lastSeqno : 0) + 1;
  const data: MessageRecalledData = {
    conversationId,
    senderUid: command.senderUid,
    receiverType: command.receiverType,
    receiverId: command.receiverId,
    targetMsgKey: command.targetMsgKey,
    targetSeqno: target.seqno,
    system: command.system,
    seqno,
    msgKey: command.msgKey,
    sentAtUs: command.nowUs,
    devId: command.devId,
    msgSource: command.msgSource,
  };
  return {
    events: [{ type: MESSAGE_RECALLED, data }],
    result: {
      msgKey: command.msgKey,
      seqno,
      sentAtUs: command.nowUs,
      conversationId,
      duplicate: false,
    },
  };
}

export function decide(
  command: ConversationCommand,
  state: ConversationState,
): Decision<SendResult> {
  switch (command.kind) {
    case 'SendMessage':
      return decideSend(command, state);
    case 'RecallMessage':
      return decideRecall(command, state);
  }
}

/** The conversation aggregate as the stream command processor runs it. */
export const conversationDecider: StreamDecider<
  ConversationState,
  ConversationCommand,
  SendResult
> = {
  initialState,
  evolve,
  decide,
  // A send is identified by its conversation, its sender and the client's dev_id.
  eventId: (command: ConversationCommand) =>
    uuidV5(
      `${command.conversationId}\u0000${command.senderUid}\u0000${command.devId}`,
      SEND_NAMESPACE,
    ),
  resultOfStored: (_command, events: readonly RecordedEvent[]) => {
    const m = events[0].data as MessageSentData | MessageRecalledData;
    return {
      msgKey: m.msgKey,
      seqno: m.seqno,
      sentAtUs: m.sentAtUs,
      conversationId: m.conversationId,
      duplicate: true,
    };
  },
  tailWindow: RECENT_SENDS,
};
