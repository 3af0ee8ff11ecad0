import { Errors } from '../../common/errors';
import { uuidV5 } from '../../common/ids';
import type { Decision, NewEvent, StreamDecider } from '../../common/stream-command-processor';
import type { RecordedEvent } from '../../event-store/event-store.port';
import { MESSAGE_SENT, MessageDraft, MessageSentData } from '../messaging.events';

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

export type ConversationState =
  | { readonly status: 'empty' }
  | {
      readonly status: 'active';
      readonly lastSeqno: number;
      /**
       * (sender, dev_id) → the message it produced, for the last {@link RECENT_SENDS} sends. Keyed
       * by sender too: both users write to the stream, and one's dev_id says nothing of the other.
       */
      readonly recent: ReadonlyMap<string, SentRef>;
    };

export interface SendMessage extends MessageDraft {
  readonly kind: 'SendMessage';
  readonly conversationId: string;
  /** Decided outside: the key the message gets if it is new, and the time of sending. */
  readonly msgKey: string;
  readonly nowUs: number;
  readonly maxTextLength: number;
}

export type ConversationCommand = SendMessage;

export interface SendResult extends SentRef {
  readonly conversationId: string;
  /** True when this dev_id was sent before: the first send's message is returned. */
  readonly duplicate: boolean;
}

/** Namespace of the event ids of sends (a random constant: only its stability matters). */
const SEND_NAMESPACE = '6f1c8e52-3b0a-4f7e-9d51-2c4a8b7e0f13';

export const MSG_TYPE_TEXT = 1;

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

export function evolve(state: ConversationState, event: NewEvent): ConversationState {
  switch (event.type) {
    case MESSAGE_SENT: {
      const m = event.data as MessageSentData;
      const recent = new Map(state.status === 'active' ? state.recent : []);
      recent.set(sendKey(m.senderUid, m.devId), {
        msgKey: m.msgKey,
        seqno: m.seqno,
        sentAtUs: m.sentAtUs,
      });
      if (recent.size > RECENT_SENDS) recent.delete(recent.keys().next().value as string);
      return { status: 'active', lastSeqno: m.seqno, recent };
    }
    default:
      return state;
  }
}

/** PostgreSQL text and jsonb hold neither U+0000 nor unpaired surrogates. */
export function isStorableText(text: string): boolean {
  return text.isWellFormed() && !text.includes('\u0000');
}

/** Validates the seed's content for a message type; returns nothing or throws a domain error. */
function validateContent(msgType: number, content: string, maxTextLength: number): void {
  if (msgType !== MSG_TYPE_TEXT) throw Errors.msgTypeUnsupported(msgType);
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    throw Errors.validation('content must be JSON text, e.g. {"content":"hello"}');
  }
  const text = (parsed as { content?: unknown } | null)?.content;
  if (typeof parsed !== 'object' || parsed === null || typeof text !== 'string') {
    throw Errors.validation('a text message (msg_type 1) needs content {"content": "<text>"}');
  }
  if (text.length === 0) throw Errors.validation('a text message cannot be empty');
  if (!isStorableText(text)) {
    throw Errors.validation('text must not hold NUL characters or unpaired UTF-16 surrogates');
  }
  if ([...text].length > maxTextLength) throw Errors.messageTooLong(maxTextLength);
}

export function decide(
  command: ConversationCommand,
  state: ConversationState,
): Decision<SendResult> {
  switch (command.kind) {
    case 'SendMessage': {
      const { conversationId } = command;
      if (command.receiverType === 1 && command.receiverId === command.senderUid) {
        throw Errors.sendToSelf();
      }
      const earlier =
        state.status === 'active'
          ? state.recent.get(sendKey(command.senderUid, command.devId))
          : undefined;
      if (earlier) return { events: [], result: { ...earlier, conversationId, duplicate: true } };
      validateContent(command.msgType, command.content, command.maxTextLength);
      const seqno = (state.status === 'active' ? state.lastSeqno : 0) + 1;
      const { kind, nowUs, maxTextLength, ...draft } = command;
      const data: MessageSentData = { ...draft, seqno, sentAtUs: nowUs };
      return {
        events: [{ type: MESSAGE_SENT, data }],
        result: {
          msgKey: command.msgKey,
          seqno,
          sentAtUs: command.nowUs,
          conversationId,
          duplicate: false,
        },
      };
    }
    default: {
      const never: never = command.kind;
      throw new Error(`unknown command ${String(never)}`);
    }
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
  eventId: (command) =>
    uuidV5(
      `${command.conversationId}\u0000${command.senderUid}\u0000${command.devId}`,
      SEND_NAMESPACE,
    ),
  resultOfStored: (_command, events: readonly RecordedEvent[]) => {
    const m = events[0].data as MessageSentData;
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
