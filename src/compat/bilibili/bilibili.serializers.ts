import type { SentMessage } from '../../messaging/commands/send-message/send-message.command';
import { toSendResponse } from '../../messaging/commands/send-message/send-message.request.dto';
import type { MessageView } from '../../messaging/message.view';
import type { History } from '../../messaging/queries/get-history/get-history.query';
import type { SessionView } from '../../sessions/session.view';
import { idValue, JsonNumber } from './raw-json';

/**
 * The native views in the seed's wire form. The fields are the native ones (the native API already
 * follows the seed's objects); what changes is that 64-bit ids become JSON numbers, and that empty
 * lists and pages take the values the seed shows for them.
 */

/** fetch_session_msgs `min_seqno` of an empty page (2^64 - 1), as the seed has it. */
export const EMPTY_MIN_SEQNO = JsonNumber.of('18446744073709551615');

/** The seed's 私信主体对象. */
export function wireMessage(m: MessageView) {
  return {
    ...m,
    sender_uid: idValue(m.sender_uid),
    receiver_id: idValue(m.receiver_id),
    at_uids: m.at_uids === null ? null : m.at_uids.map(idValue),
    msg_key: idValue(m.msg_key),
  };
}

/** The seed's 会话对象. */
export function wireSession(s: SessionView) {
  return {
    ...s,
    talker_id: idValue(s.talker_id),
    last_msg: s.last_msg === null ? null : wireMessage(s.last_msg),
  };
}

/** RspSessions (new_sessions, get_sessions). `session_list` is null when empty, as in the seed. */
export function wireSessions(
  sessions: readonly SessionView[],
  hasMore: 0 | 1,
  isAddressListEmpty: 0 | 1,
) {
  return {
    session_list: sessions.length > 0 ? sessions.map(wireSession) : null,
    has_more: hasMore,
    anti_disturb_cleaning: false,
    is_address_list_empty: isAddressListEmpty,
    show_level: false,
  };
}

/** RspSessionMsg (fetch_session_msgs). `e_infos` is left out: the seed omits it when empty. */
export function wireHistory(h: History) {
  return {
    messages: h.messages.length > 0 ? h.messages.map(wireMessage) : null,
    has_more: h.has_more,
    min_seqno: h.min_seqno ?? EMPTY_MIN_SEQNO,
    max_seqno: h.max_seqno ?? 0,
  };
}

/**
 * RspSendMsg (send_msg): `msg_key`, and `e_infos`, `msg_content`, `key_hit_infos` when the native
 * answer has them. The native `msg_seqno` and `timestamp` are not in the seed's answer.
 */
export function wireSent(sent: SentMessage) {
  const { msg_key, e_infos, msg_content, key_hit_infos } = toSendResponse(sent);
  return { msg_key: idValue(msg_key), e_infos, msg_content, key_hit_infos };
}
