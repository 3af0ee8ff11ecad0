import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../core/core.module';
import { privateConversationId } from '../../domain/conversation';
import { MessageRow, messageColumns, toMessageView } from '../../message.view';
import { GetHistoryQuery, History } from './get-history.query';

@QueryHandler(GetHistoryQuery)
export class GetHistoryHandler implements IQueryHandler<GetHistoryQuery, History> {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async execute(q: GetHistoryQuery): Promise<History> {
    // The conversation is derived from the caller and the talker: a user can only name their own.
    const conversationId = privateConversationId(q.ownerUid, q.talkerId);
    const ascending = q.beginSeqno !== null;
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${messageColumns('m')} FROM rm_messages m
        WHERE m.conversation_id = $1
          AND m.msg_status <> 2 -- recalled by the system: gone from history
          AND ($2::bigint IS NULL OR m.msg_seqno > $2)
          AND ($3::bigint IS NULL OR m.msg_seqno < $3)
        ORDER BY m.msg_seqno ${ascending ? 'ASC' : 'DESC'}
        LIMIT $4`,
      [conversationId, q.beginSeqno, q.endSeqno, q.size + 1],
    );
    const hasMore = rows.length > q.size;
    const page = rows.slice(0, q.size).map(toMessageView);
    if (ascending) page.reverse();
    return {
      messages: page,
      has_more: hasMore ? 1 : 0,
      min_seqno: page.length ? page[page.length - 1].msg_seqno : null,
      max_seqno: page.length ? page[0].msg_seqno : null,
    };
  }
}
