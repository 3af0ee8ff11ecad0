import type { MessageView } from '../messaging/message.view';

/** The seed's 会话对象 (session object), with the fields that have a meaning so far. */
export interface SessionView {
  talker_id: string;
  session_type: number;
  at_seqno: number;
  /** Microseconds; 0 when not pinned. */
  top_ts: number;
  is_follow: 0 | 1;
  is_dnd: 0 | 1;
  ack_seqno: number;
  /** Microseconds. */
  ack_ts: number;
  /** Microseconds. */
  session_ts: number;
  unread_count: number;
  last_msg: MessageView | null;
  max_seqno: number;
  status: number;
}
