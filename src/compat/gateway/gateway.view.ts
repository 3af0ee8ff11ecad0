import type { MessageView } from '../../messaging/message.view';

/**
 * The seed gateway's answers. Success is `{ code: 0, data }` with no `error` field (errors are
 * written by src/common/http/error.filter.ts as `{ code, error }` with no `data` field).
 */
export interface Ok<T> {
  code: 0;
  data: T;
}

export const ok = <T>(data: T): Ok<T> => ({ code: 0, data });

/** The seed's MsgData. */
export interface MsgData {
  /** The msg_key, as a decimal string. */
  MsgId: string;
  ConversationID: string;
  FromSession: string;
  /** Microseconds. */
  SendTime: number;
  /** 0 normal, 1 recalled. */
  Status: number;
  Type: number;
  /** Text messages: the text; other types: their content JSON text as stored. */
  Content: string;
}

/** The seed's conversation detail (get_conversation_detail, get_joined_conversation). */
export interface ConversationDetail {
  ConversationID: string;
  /** The msg_key of the newest message the caller may read; "" when there is none. */
  LastMsgID: string;
  /** Microseconds; 0 when there is no message. */
  LastSendTime: number;
  /** The group is dismissed. */
  IsDelete: boolean;
  ConversationType: number;
  /** The sender of the newest message; "" when there is none. */
  LastSendSession: string;
  /** The group is banned (status 1) by an administrator: read-only. */
  IsArchive: boolean;
}

/** The newest message of a conversation, as the detail shows it. */
export interface LastMessage {
  msgKey: string;
  sentAtUs: number;
  senderUid: string;
}

const TEXT = 1;

/**
 * The seed's Content: the text of a text message (stored as `{"content": text}`), the stored
 * content JSON text otherwise. A recalled message's content is empty.
 */
export function gatewayContent(msgType: number, content: string): string {
  if (msgType !== TEXT || content === '') return content;
  try {
    const parsed = JSON.parse(content) as { content?: unknown };
    return typeof parsed?.content === 'string' ? parsed.content : content;
  } catch {
    return content;
  }
}

/** A history message as MsgData; `sentAtUs` is its send time in microseconds. */
export function toMsgData(conversationId: string, m: MessageView, sentAtUs: number): MsgData {
  return {
    MsgId: m.msg_key,
    ConversationID: conversationId,
    FromSession: m.sender_uid,
    SendTime: sentAtUs,
    Status: m.msg_status,
    Type: m.msg_type,
    Content: gatewayContent(m.msg_type, m.content),
  };
}

export function toDetail(
  conversationId: string,
  group: { groupType: number; deleted: boolean; archived: boolean },
  last: LastMessage | null,
): ConversationDetail {
  return {
    ConversationID: conversationId,
    LastMsgID: last?.msgKey ?? '',
    LastSendTime: last?.sentAtUs ?? 0,
    IsDelete: group.deleted,
    ConversationType: group.groupType,
    LastSendSession: last?.senderUid ?? '',
    IsArchive: group.archived,
  };
}
