import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../core/core.module';
import { MessageRow, messageColumns, toMessageView } from '../../../messaging/message.view';
import { encodeCursor, ListSessionsQuery, SessionPage } from './list-sessions.query';

interface SessionRow extends Partial<MessageRow> {
  talker_id: string;
  session_type: number;
  top_ts: string;
  is_dnd: number;
  ack_seqno: string;
  ack_ts: string;
  session_ts: string;
  unread_count: number;
  max_seqno: string;
  has_last: boolean;
}

@QueryHandler(ListSessionsQuery)
export class ListSessionsHandler implements IQueryHandler<ListSessionsQuery, SessionPage> {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async execute(q: ListSessionsQuery): Promise<SessionPage> {
    const c = q.cursor;
    // Keyset paging over the list index: (top_ts, session_ts, session_type, talker_id) descending.
    const { rows } = await this.pool.query<SessionRow>(
      `SELECT s.talker_id, s.session_type, s.top_ts, s.is_dnd, s.ack_seqno, s.ack_ts,
              s.session_ts, s.unread_count, s.max_seqno, m.msg_seqno IS NOT NULL AS has_last,
              ${messageColumns('m')}
         FROM rm_sessions s
         LEFT JOIN rm_messages m
           ON m.conversation_id = s.conversation_id AND m.msg_seqno = s.max_seqno
        WHERE s.owner_uid = $1
          AND ($2::bigint IS NULL
               OR (s.top_ts, s.session_ts, s.session_type, s.talker_id) < ($2, $3, $4, $5))
        ORDER BY s.top_ts DESC, s.session_ts DESC, s.session_type DESC, s.talker_id DESC
        LIMIT $6`,
      [
        q.ownerUid,
        c?.topTs ?? null,
        c?.sessionTs ?? null,
        c?.sessionType ?? null,
        c?.talkerId ?? null,
        q.size + 1,
      ],
    );
    const hasMore = rows.length > q.size;
    const page = rows.slice(0, q.size);
    const last = page[page.length - 1];
    return {
      session_list: page.map((r) => ({
        talker_id: r.talker_id,
        session_type: r.session_type,
        at_seqno: 0,
        top_ts: Number(r.top_ts),
        is_follow: 0,
        is_dnd: r.is_dnd ? 1 : 0,
        ack_seqno: Number(r.ack_seqno),
        ack_ts: Number(r.ack_ts),
        session_ts: Number(r.session_ts),
        unread_count: r.unread_count,
        last_msg: r.has_last ? toMessageView(r as MessageRow) : null,
        max_seqno: Number(r.max_seqno),
        status: 0,
      })),
      has_more: hasMore ? 1 : 0,
      next_cursor:
        hasMore && last
          ? encodeCursor({
              topTs: Number(last.top_ts),
              sessionTs: Number(last.session_ts),
              sessionType: last.session_type,
              talkerId: last.talker_id,
            })
          : null,
    };
  }
}
