import type { PoolClient } from 'pg';
import { arrayParam } from '../src/database/array-param';
import { prepared } from '../src/database/prepared';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import { privateConversationId } from '../src/messaging/domain/conversation';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
} from '../src/messaging/messaging.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SessionAckedData,
  SessionDndSetData,
  SESSIONS_REMOVED,
  SessionsRemovedData,
  SessionTopSetData,
  SessionTrustSetData,
} from '../src/sessions/sessions.events';
import { AT_ALL, groupConversationId } from '../src/groups/groups.events';
import type { Projector } from './projector';

/** What a batch does to one session row. */
interface SessionChange {
  owner: string;
  type: number;
  talker: string;
  conversationId: string;
  maxSeqno: number;
  sessionTs: number;
  ackSeqno: number;
  ackTs: number;
  hiddenUpto: number;
  /** Group sessions: the newest message mentioning the owner. */
  atSeqno: number;
  /** Settings: undefined when the batch did not touch them. */
  topTs?: number;
  dnd?: boolean;
  trusted?: boolean;
}

const US_PER_DAY = 86_400_000_000;

/** A user's messages sent on a day (days since the epoch, UTC), for rm_daily_sends. */
interface DailySends {
  readonly uid: string;
  readonly day: number;
  sent: number;
}

/**
 * rm_sessions: each user's session list, and rm_daily_sends. A message touches both sides'
 * sessions (max_seqno, session_ts) and acks the sender's up to itself, so unread counts are
 * max_seqno - ack_seqno. Session events (acks, pins, do-not-disturb, removal, trust) come from
 * the owner's `sessions-<uid>` stream. One upsert per batch; settings are one update after it.
 */
export class SessionsProjector implements Projector {
  readonly name = 'sessions';
  readonly usesMetadata = false;
  readonly eventTypes = new Set([
    MESSAGE_SENT,
    MESSAGE_RECALLED,
    SESSION_ACKED,
    SESSION_TOP_SET,
    SESSION_DND_SET,
    SESSIONS_REMOVED,
    SESSION_TRUST_SET,
  ]);
  readonly tables = ['rm_sessions', 'rm_daily_sends'];
  /** Every message updates two sessions and its sender's day. */
  readonly upserted = ['rm_sessions', 'rm_daily_sends'];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    const changes = new Map<string, SessionChange>();
    const daily = new Map<string, DailySends>();
    const touch = (owner: string, type: number, talker: string, conversationId?: string) => {
      const key = `${owner}\u0000${type}\u0000${talker}`;
      let c = changes.get(key);
      if (!c) {
        c = {
          owner,
          type,
          talker,
          conversationId:
            conversationId ??
            (type === 2 ? groupConversationId(talker) : privateConversationId(owner, talker)),
          maxSeqno: 0,
          sessionTs: 0,
          ackSeqno: 0,
          ackTs: 0,
          hiddenUpto: 0,
          atSeqno: 0,
        };
        changes.set(key, c);
      }
      return c;
    };
    const ack = (c: SessionChange, seqno: number, atUs: number) => {
      if (seqno > c.ackSeqno) {
        c.ackSeqno = seqno;
        c.ackTs = atUs;
      }
    };

    for (const e of events) {
      switch (e.type) {
        case MESSAGE_SENT:
        case MESSAGE_RECALLED: {
          const m = e.data as MessageSentData | MessageRecalledData;
          if (m.receiverType === 2) {
            // A group message touches only its sender's row (read up to their own message) and
            // the rows of the members it mentions; the group's row carries max_seqno for all.
            const own = touch(m.senderUid, 2, m.receiverId, m.conversationId);
            ack(own, m.seqno, m.sentAtUs);
            for (const uid of ('atUids' in m ? m.atUids : null) ?? []) {
              if (uid === AT_ALL || uid === m.senderUid) continue;
              const c = touch(uid, 2, m.receiverId, m.conversationId);
              c.atSeqno = Math.max(c.atSeqno, m.seqno);
            }
          } else {
            for (const [owner, talker] of [
              [m.senderUid, m.receiverId],
              [m.receiverId, m.senderUid],
            ]) {
              const c = touch(owner, 1, talker, m.conversationId);
              c.maxSeqno = Math.max(c.maxSeqno, m.seqno);
              c.sessionTs = Math.max(c.sessionTs, m.sentAtUs);
              if (owner === m.senderUid) ack(c, m.seqno, m.sentAtUs);
            }
          }
          if (e.type === MESSAGE_SENT) {
            const day = Math.floor(m.sentAtUs / US_PER_DAY);
            const key = `${m.senderUid}\u0000${day}`;
            const d = daily.get(key) ?? { uid: m.senderUid, day, sent: 0 };
            d.sent += 1;
            daily.set(key, d);
          }
          break;
        }
        case SESSION_ACKED: {
          const d = e.data as SessionAckedData;
          for (const a of d.acks)
            ack(touch(d.ownerUid, a.sessionType, a.talkerId), a.ackSeqno, d.atUs);
          break;
        }
        case SESSIONS_REMOVED: {
          const d = e.data as SessionsRemovedData;
          for (const r of d.sessions) {
            const c = touch(d.ownerUid, r.sessionType, r.talkerId);
            c.hiddenUpto = Math.max(c.hiddenUpto, r.uptoSeqno);
            ack(c, r.uptoSeqno, d.atUs);
          }
          break;
        }
        // A setting event without a value (data no handler writes) sets nothing: otherwise it
        // would undo an earlier one of its own batch but not one of an earlier batch, and the
        // live model (small batches) and a rebuild (large ones) would differ.
        case SESSION_TOP_SET: {
          const d = e.data as SessionTopSetData;
          const c = touch(d.ownerUid, d.sessionType, d.talkerId);
          if (d.topTs !== undefined && d.topTs !== null) c.topTs = d.topTs;
          break;
        }
        case SESSION_DND_SET: {
          const d = e.data as SessionDndSetData;
          const c = touch(d.ownerUid, d.sessionType, d.talkerId);
          if (d.dnd !== undefined) c.dnd = d.dnd;
          break;
        }
        case SESSION_TRUST_SET: {
          const d = e.data as SessionTrustSetData;
          const c = touch(d.ownerUid, d.sessionType, d.talkerId);
          if (d.trusted !== undefined) c.trusted = d.trusted;
          break;
        }
      }
    }
    // Daily sends come only with messages, which touch sessions: written by the same statement.
    if (changes.size > 0) await this.write([...changes.values()], [...daily.values()], tx);
  }

  private async write(
    rows: readonly SessionChange[],
    daily: readonly DailySends[],
    tx: PoolClient,
  ): Promise<void> {
    // ack_seqno and hidden_upto_seqno only move forward; ack_ts moves with ack_seqno. The
    // day's sends in the same round trip (none: empty arrays).
    await tx.query({
      ...prepared(`WITH daily AS (
         INSERT INTO rm_daily_sends AS d (uid, day, sent)
         SELECT * FROM unnest($11::text[], $12::int[], $13::int[])
         ON CONFLICT (uid, day) DO UPDATE SET sent = d.sent + EXCLUDED.sent
       )
       INSERT INTO rm_sessions AS s (owner_uid, session_type, talker_id, conversation_id,
                                     max_seqno, session_ts, ack_seqno, ack_ts, hidden_upto_seqno,
                                     at_seqno)
       SELECT * FROM unnest($1::text[], $2::int2[], $3::text[], $4::text[], $5::bigint[],
                            $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
       ON CONFLICT (owner_uid, session_type, talker_id) DO UPDATE SET
         max_seqno = GREATEST(s.max_seqno, EXCLUDED.max_seqno),
         session_ts = GREATEST(s.session_ts, EXCLUDED.session_ts),
         ack_ts = CASE WHEN EXCLUDED.ack_seqno > s.ack_seqno THEN EXCLUDED.ack_ts ELSE s.ack_ts END,
         ack_seqno = GREATEST(s.ack_seqno, EXCLUDED.ack_seqno),
         hidden_upto_seqno = GREATEST(s.hidden_upto_seqno, EXCLUDED.hidden_upto_seqno),
         at_seqno = GREATEST(s.at_seqno, EXCLUDED.at_seqno)`),
      values: [
        arrayParam(rows.map((r) => r.owner)),
        arrayParam(rows.map((r) => r.type)),
        arrayParam(rows.map((r) => r.talker)),
        arrayParam(rows.map((r) => r.conversationId)),
        arrayParam(rows.map((r) => r.maxSeqno)),
        arrayParam(rows.map((r) => r.sessionTs)),
        arrayParam(rows.map((r) => r.ackSeqno)),
        arrayParam(rows.map((r) => r.ackTs)),
        arrayParam(rows.map((r) => r.hiddenUpto)),
        arrayParam(rows.map((r) => r.atSeqno)),
        arrayParam(daily.map((r) => r.uid)),
        arrayParam(daily.map((r) => r.day)),
        arrayParam(daily.map((r) => r.sent)),
      ],
    });
    const settings = rows.filter(
      (r) => r.topTs !== undefined || r.dnd !== undefined || r.trusted !== undefined,
    );
    if (settings.length === 0) return;
    await tx.query(
      `UPDATE rm_sessions AS s SET
         top_ts = COALESCE(i.top, s.top_ts),
         is_dnd = COALESCE(i.dnd, s.is_dnd),
         is_trust = COALESCE(i.trust, s.is_trust)
         FROM unnest($1::text[], $2::int2[], $3::text[], $4::bigint[], $5::int2[], $6::int2[])
              AS i(o, ty, t, top, dnd, trust)
        WHERE s.owner_uid = i.o AND s.session_type = i.ty AND s.talker_id = i.t`,
      [
        arrayParam(settings.map((r) => r.owner)),
        settings.map((r) => r.type),
        arrayParam(settings.map((r) => r.talker)),
        settings.map((r) => r.topTs ?? null),
        arrayParam(settings.map((r) => (r.dnd === undefined ? null : r.dnd ? 1 : 0))),
        settings.map((r) => (r.trusted === undefined ? null : r.trusted ? 1 : 0)),
      ],
    );
  }
}
