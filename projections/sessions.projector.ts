import type { PoolClient } from 'pg';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import { MESSAGE_SENT, MessageSentData } from '../src/messaging/messaging.events';
import type { Projector } from './projector';

interface SessionChange {
  owner: string;
  talker: string;
  conversationId: string;
  maxSeqno: number;
  sessionTs: number;
  /** Set when the owner sent in this batch: read progress jumps to their latest message. */
  ackSeqno: number;
  ackTs: number;
  /** Unread messages in this batch after the owner's own latest one (or all, if none). */
  unread: number;
}

/**
 * rm_sessions: each user's session list. A one-to-one session keeps an unread counter: a message
 * from the talker adds one; a message of the owner's own marks everything before it read (the
 * seed's send also acks), so the count restarts after it.
 */
export class SessionsProjector implements Projector {
  readonly name = 'sessions';
  readonly eventTypes = new Set([MESSAGE_SENT]);
  readonly tables = ['rm_sessions'];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    const changes = new Map<string, SessionChange>();
    const touch = (owner: string, talker: string, m: MessageSentData): SessionChange => {
      const key = `${owner}\u0000${talker}`;
      let c = changes.get(key);
      if (!c) {
        c = {
          owner,
          talker,
          conversationId: m.conversationId,
          maxSeqno: 0,
          sessionTs: 0,
          ackSeqno: 0,
          ackTs: 0,
          unread: 0,
        };
        changes.set(key, c);
      }
      c.maxSeqno = Math.max(c.maxSeqno, m.seqno);
      c.sessionTs = Math.max(c.sessionTs, m.sentAtUs);
      return c;
    };
    for (const e of events) {
      if (e.type !== MESSAGE_SENT) continue;
      const m = e.data as MessageSentData;
      if (m.receiverType !== 1) continue;
      const mine = touch(m.senderUid, m.receiverId, m);
      mine.ackSeqno = m.seqno;
      mine.ackTs = m.sentAtUs;
      mine.unread = 0;
      touch(m.receiverId, m.senderUid, m).unread += 1;
    }
    if (changes.size === 0) return;
    const rows = [...changes.values()];
    // ack_seqno only moves forward. When this batch moved it (the owner sent), the unread count
    // is the batch's own count after that message; otherwise the batch's count adds to the old.
    await tx.query(
      `INSERT INTO rm_sessions AS s (owner_uid, session_type, talker_id, conversation_id,
                                     max_seqno, session_ts, ack_seqno, ack_ts, unread_count)
       SELECT o, 1, t, c, mx, ts, ack, ackts, un
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                     $7::bigint[], $8::int[]) AS i(o, t, c, mx, ts, ack, ackts, un)
       ON CONFLICT (owner_uid, session_type, talker_id) DO UPDATE SET
         max_seqno = GREATEST(s.max_seqno, EXCLUDED.max_seqno),
         session_ts = GREATEST(s.session_ts, EXCLUDED.session_ts),
         unread_count = CASE WHEN EXCLUDED.ack_seqno > s.ack_seqno THEN EXCLUDED.unread_count
                             ELSE s.unread_count + EXCLUDED.unread_count END,
         ack_ts = CASE WHEN EXCLUDED.ack_seqno > s.ack_seqno THEN EXCLUDED.ack_ts ELSE s.ack_ts END,
         ack_seqno = GREATEST(s.ack_seqno, EXCLUDED.ack_seqno)`,
      [
        rows.map((r) => r.owner),
        rows.map((r) => r.talker),
        rows.map((r) => r.conversationId),
        rows.map((r) => r.maxSeqno),
        rows.map((r) => r.sessionTs),
        rows.map((r) => r.ackSeqno),
        rows.map((r) => r.ackTs),
        rows.map((r) => r.unread),
      ],
    );
  }
}
