import type { PoolClient } from 'pg';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import { MESSAGE_SENT, MessageSentData } from '../src/messaging/messaging.events';
import type { Projector } from './projector';

/** rm_messages: message history, one row per message, keyed by (conversation, seqno). */
export class MessagesProjector implements Projector {
  readonly name = 'messages';
  readonly eventTypes = new Set([MESSAGE_SENT]);
  readonly tables = ['rm_messages'];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    const sent = events
      .filter((e) => e.type === MESSAGE_SENT)
      .map((e) => e.data as MessageSentData);
    if (sent.length === 0) return;
    await tx.query(
      `INSERT INTO rm_messages (conversation_id, msg_seqno, msg_key, sender_uid, receiver_type,
                                receiver_id, msg_type, content, at_uids, msg_source,
                                new_face_version, sent_at_us)
       SELECT c, s, k, u, rt, r, t, ct,
              CASE WHEN a IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(a)) END,
              src, fv, ts
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::int2[], $6::text[],
                     $7::int[], $8::text[], $9::jsonb[], $10::int[], $11::int[], $12::bigint[])
              AS i(c, s, k, u, rt, r, t, ct, a, src, fv, ts)
       ON CONFLICT DO NOTHING`,
      [
        sent.map((m) => m.conversationId),
        sent.map((m) => m.seqno),
        sent.map((m) => m.msgKey),
        sent.map((m) => m.senderUid),
        sent.map((m) => m.receiverType),
        sent.map((m) => m.receiverId),
        sent.map((m) => m.msgType),
        sent.map((m) => m.content),
        sent.map((m) => (m.atUids ? JSON.stringify(m.atUids) : null)),
        sent.map((m) => m.msgSource),
        sent.map((m) => m.newFaceVersion),
        sent.map((m) => m.sentAtUs),
      ],
    );
  }
}
