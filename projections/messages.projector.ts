import type { PoolClient } from 'pg';
import { USER_ERASED, UserErasedData } from '../src/accounts/accounts.events';
import { KeyRing } from '../src/crypto/key-ring';
import { arrayParam } from '../src/database/array-param';
import { copyUnlessDuplicate } from '../src/database/copy-rows';
import { prepared } from '../src/database/prepared';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
  MSG_TYPE_RECALL,
} from '../src/messaging/messaging.events';
import type { Projector } from './projector';

/** From this many rows, messages are written by COPY (MessagesProjector's `copyFromRows`). */
const COPY_FROM_ROWS = 50;

/** rm_messages' columns, in the order both ways of writing it give them. */
const MESSAGE_COLUMNS = [
  'conversation_id',
  'msg_seqno',
  'msg_key',
  'sender_uid',
  'receiver_type',
  'receiver_id',
  'msg_type',
  'content',
  'at_uids',
  'msg_source',
  'new_face_version',
  'sys_cancel',
  'notify_code',
  'sent_at_us',
  'erased',
];

const isTextList = (v: unknown): boolean =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Content shown for a message whose sender's data key was destroyed (erased). */
export const ERASED_CONTENT = '';

interface MessageRow {
  conversationId: string;
  seqno: number;
  msgKey: string;
  senderUid: string;
  receiverType: number;
  receiverId: string;
  msgType: number;
  content: string;
  atUids: readonly string[] | null;
  msgSource: number;
  newFaceVersion: number;
  sysCancel: boolean;
  notifyCode?: string;
  sentAtUs: number;
  /** Sealed content that no longer opens: its sender was erased. */
  erased: boolean;
}

/**
 * Empties the content of every message the users `uids` sent (not their recall notices) in the
 * `rm_messages` first on the search path: the live one, where the projector reaches `UserErased`,
 * or a copy's (src/admin/erasure, which runs it with the copy's schema first on the path). One
 * scan of rm_messages for all of them: there is no index by sender, which every insert would pay
 * for; erasures are rare.
 */
export async function redactMessagesOf(
  uids: readonly string[],
  tx: Pick<PoolClient, 'query'>,
): Promise<void> {
  if (uids.length === 0) return;
  await tx.query(
    `UPDATE rm_messages SET content = '', erased = true
      WHERE sender_uid = ANY($1::text[]) AND msg_type <> $2 AND (NOT erased OR content <> '')`,
    [uids, MSG_TYPE_RECALL],
  );
}

/** A recall's effect on the message it recalls: its msg_key, and status 1 (or 2 for sys). */
interface Recall {
  readonly msgKey: string;
  readonly status: number;
}

/**
 * Empties the messages `recalls` name and raises their status. A message recalled twice in one
 * batch (by its sender and by the system) takes the higher status whatever their order, as it
 * does when the two recalls come in different batches: one row per message, or the UPDATE would
 * take either.
 */
async function applyRecalls(recalls: readonly Recall[], tx: PoolClient): Promise<void> {
  if (recalls.length === 0) return;
  const status = new Map<string, number>();
  for (const r of recalls) status.set(r.msgKey, Math.max(status.get(r.msgKey) ?? 0, r.status));
  await tx.query({
    ...prepared(`UPDATE rm_messages AS m SET msg_status = GREATEST(m.msg_status, i.status), content = ''
       FROM unnest($1::bigint[], $2::int2[]) AS i(k, status)
      WHERE m.msg_key = i.k`),
    values: [arrayParam([...status.keys()]), arrayParam([...status.values()])],
  });
}

/** The tables {@link redactMessagesOf} writes. */
export const MESSAGES_REDACTED_TABLES: readonly string[] = ['rm_messages'];

/**
 * rm_messages: message history, one row per message, keyed by (conversation, seqno), content
 * opened with the sender's data key. A recall adds its notice (msg_type 5, content the recalled
 * msg_key) and empties the recalled message: msg_status 1, or 2 for a system recall, which history
 * then leaves out.
 *
 * Erasure: content whose sender's key is destroyed opens to nothing and is stored empty with
 * `erased`; a `UserErased` empties (and marks) every message that user sent before, as the log
 * orders it, so a rebuild (where the key is already gone) and the live model end alike. Recall
 * notices keep their content: it is the recalled msg_key, not the user's words.
 */
export class MessagesProjector implements Projector {
  readonly name = 'messages';
  readonly usesMetadata = false;
  readonly eventTypes = new Set([MESSAGE_SENT, MESSAGE_RECALLED, USER_ERASED]);
  readonly tables = ['rm_messages'];

  /**
   * `copyFromRows`: from how many rows a write goes by COPY (a rebuild's batches, a catch-up)
   * rather than by one INSERT (the live projection's few rows, where COPY's extra round trips
   * cost more than it saves).
   */
  constructor(
    private readonly keyRing: KeyRing,
    private readonly copyFromRows = COPY_FROM_ROWS,
  ) {}

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    let rows: MessageRow[] = [];
    // Messages sent: their content is sealed, or plain text written before encryption.
    let sent: MessageRow[] = [];
    let recalls: Recall[] = [];
    const flush = async () => {
      if (sent.length > 0) {
        const opened = await this.keyRing.openWhereSealed(sent.map((row) => row.content));
        sent.forEach((row, i) => {
          const text = opened[i];
          if (text === undefined) return;
          row.content = text ?? ERASED_CONTENT;
          row.erased = text === null;
        });
      }
      if (rows.length > 0) await this.insert(rows, tx);
      // After the insert: a message and its recall may arrive in one batch.
      await applyRecalls(recalls, tx);
      rows = [];
      sent = [];
      recalls = [];
    };
    for (const e of events) {
      if (e.type === MESSAGE_SENT) {
        const m = e.data as MessageSentData;
        // The fields it writes only (a spread would copy every field of the event).
        const row: MessageRow = {
          conversationId: m.conversationId,
          seqno: m.seqno,
          msgKey: m.msgKey,
          senderUid: m.senderUid,
          receiverType: m.receiverType,
          receiverId: m.receiverId,
          msgType: m.msgType,
          content: m.content,
          atUids: m.atUids,
          msgSource: m.msgSource,
          newFaceVersion: m.newFaceVersion,
          sysCancel: false,
          notifyCode: m.notifyCode,
          sentAtUs: m.sentAtUs,
          erased: false,
        };
        rows.push(row);
        sent.push(row);
      } else if (e.type === MESSAGE_RECALLED) {
        const r = e.data as MessageRecalledData;
        rows.push({
          conversationId: r.conversationId,
          seqno: r.seqno,
          msgKey: r.msgKey,
          senderUid: r.senderUid,
          receiverType: r.receiverType,
          receiverId: r.receiverId,
          msgType: MSG_TYPE_RECALL,
          content: r.targetMsgKey,
          atUids: null,
          msgSource: r.msgSource,
          newFaceVersion: 0,
          sysCancel: r.system,
          // A recall has no code of its own; one an imported log gives is kept, as before.
          notifyCode: (r as { notifyCode?: string }).notifyCode,
          sentAtUs: r.sentAtUs,
          erased: false,
        });
        recalls.push({ msgKey: r.targetMsgKey, status: r.system ? 2 : 1 });
      } else if (e.type === USER_ERASED) {
        // Everything before the erasure in log order, and nothing after: the same in any batching.
        await flush();
        await redactMessagesOf([(e.data as UserErasedData).uid], tx);
      }
    }
    await flush();
  }

  private async insert(rows: readonly MessageRow[], tx: PoolClient): Promise<void> {
    // By COPY, the same values as the INSERT's below (a message sent twice, a retry that reached
    // the log twice, makes the COPY give way to the INSERT, which keeps the first). Mentions
    // other than a list of texts go by the INSERT, which reads them as JSON.
    if (
      rows.length >= this.copyFromRows &&
      rows.every((m) => !m.atUids || isTextList(m.atUids)) &&
      (await copyUnlessDuplicate(
        tx,
        'rm_messages',
        MESSAGE_COLUMNS,
        rows.map((m) => messageValues(m, arrayParam)),
      ))
    ) {
      return;
    }
    await tx.query({
      ...prepared(`INSERT INTO rm_messages (${MESSAGE_COLUMNS.join(', ')})
       SELECT c, s, k, u, rt, r, t, ct,
              CASE WHEN a IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(a)) END,
              src, fv, sc, nc, ts, er
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::int2[], $6::text[],
                     $7::int[], $8::text[], $9::jsonb[], $10::int[], $11::int[], $12::bool[],
                     $13::text[], $14::bigint[], $15::bool[])
              AS i(c, s, k, u, rt, r, t, ct, a, src, fv, sc, nc, ts, er)
       ON CONFLICT DO NOTHING`),
      // The same values, one array per column; mentions as JSON.
      values: transpose(
        rows.map((m) => messageValues(m, JSON.stringify)),
        MESSAGE_COLUMNS.length,
      ).map(arrayParam),
    });
  }
}

/** A message's row, in MESSAGE_COLUMNS' order, its mentions (a list) written by `mentions`. */
function messageValues(m: MessageRow, mentions: (atUids: readonly string[]) => unknown): unknown[] {
  return [
    m.conversationId,
    m.seqno,
    m.msgKey,
    m.senderUid,
    m.receiverType,
    m.receiverId,
    m.msgType,
    m.content,
    m.atUids ? mentions(m.atUids) : null,
    m.msgSource,
    m.newFaceVersion,
    m.sysCancel,
    m.notifyCode ?? '',
    m.sentAtUs,
    m.erased,
  ];
}

/** Rows as columns: `width` arrays, the i-th holding every row's i-th value. */
function transpose(rows: readonly unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((r) => r[i]));
}
