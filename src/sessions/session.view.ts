import type { MessageView } from '../messaging/message.view';

/** The seed's account_info: a system account's name and picture. */
export interface AccountInfo {
  name: string;
  pic_url: string;
}

/**
 * The seed's 会话对象 (session object). Fields the seed marks as unclear (`can_fold`, `setting`,
 * `is_guardian`, `user_label`) and those of features this product does not have (`live_status`)
 * are present with their neutral values, so seed clients parse it unchanged.
 */
export interface SessionView {
  talker_id: string;
  session_type: number;
  /** Group sessions: the newest unread message mentioning the owner (0 when none). */
  at_seqno: number;
  /** Microseconds; 0 when not pinned. */
  top_ts: number;
  group_name: string;
  group_cover: string;
  is_follow: 0 | 1;
  is_dnd: 0 | 1;
  ack_seqno: number;
  /** Microseconds. */
  ack_ts: number;
  /** Microseconds. */
  session_ts: number;
  unread_count: number;
  last_msg: MessageView | null;
  group_type: number;
  can_fold: 0;
  status: number;
  max_seqno: number;
  /** 1 when a system account's session has unread notices. */
  new_push_msg: 0 | 1;
  setting: 0;
  is_guardian: 0;
  is_intercept: 0 | 1;
  is_trust: 0 | 1;
  /** 0 for a user; the system account's kind otherwise (1, 7, 8 as in the seed). */
  system_msg_type: number;
  /** Only for system accounts. */
  account_info?: AccountInfo;
  live_status: 0;
  biz_msg_unread_count: number;
  user_label: null;
}
