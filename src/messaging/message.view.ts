/** The seed's 私信主体对象 (message object), as every endpoint returns a message. */
export interface MessageView {
  sender_uid: string;
  receiver_type: number;
  receiver_id: string;
  msg_type: number;
  content: string;
  msg_seqno: number;
  /** Seconds. */
  timestamp: number;
  at_uids: string[] | null;
  /** 64-bit id as a string. */
  msg_key: string;
  msg_status: number;
  notify_code: string;
  new_face_version: number;
  msg_source: number;
  /** Only on a recall notice (msg_type 5) of a system recall: the target is hidden entirely. */
  sys_cancel?: true;
  /** Only when the sender was erased: the content is gone for good (empty). */
  erased?: true;
}

export interface MessageRow {
  sender_uid: string;
  receiver_type: number;
  receiver_id: string;
  msg_type: number;
  content: string;
  msg_seqno: string;
  sent_at_us: string;
  at_uids: string[] | null;
  msg_key: string;
  msg_status: number;
  notify_code: string;
  new_face_version: number;
  msg_source: number;
  sys_cancel: boolean;
  erased: boolean;
}

/** Columns of rm_messages that make a {@link MessageRow}, for a table aliased `alias`. */
export const messageColumns = (alias: string): string =>
  [
    'sender_uid',
    'receiver_type',
    'receiver_id',
    'msg_type',
    'content',
    'msg_seqno',
    'sent_at_us',
    'at_uids',
    'msg_key',
    'msg_status',
    'notify_code',
    'new_face_version',
    'msg_source',
    'sys_cancel',
    'erased',
  ]
    .map((c) => `${alias}.${c}`)
    .join(', ');

export function toMessageView(row: MessageRow): MessageView {
  return {
    sender_uid: row.sender_uid,
    receiver_type: row.receiver_type,
    receiver_id: row.receiver_id,
    msg_type: row.msg_type,
    content: row.content,
    msg_seqno: Number(row.msg_seqno),
    timestamp: Math.floor(Number(row.sent_at_us) / 1_000_000),
    at_uids: row.at_uids,
    msg_key: String(row.msg_key),
    msg_status: row.msg_status,
    notify_code: row.notify_code,
    new_face_version: row.new_face_version,
    msg_source: row.msg_source,
    ...(row.sys_cancel ? { sys_cancel: true as const } : {}),
    ...(row.erased ? { erased: true as const } : {}),
  };
}
