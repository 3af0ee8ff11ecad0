import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../core/core.module';
import { GroupReader } from '../../../groups/group-reader';
import { GroupStore } from '../../../groups/group.store';
import { GroupErrors } from '../../../groups/groups.errors';
import { groupConversationId } from '../../../groups/groups.events';
import { privateConversationId } from '../../domain/conversation';
import { MessageRow, messageColumns, toMessageView } from '../../message.view';
import { GetHistoryQuery, History } from './get-history.query';

@QueryHandler(GetHistoryQuery)
export class GetHistoryHandler implements IQueryHandler<GetHistoryQuery, History> {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly groups: GroupReader,
    private readonly groupStore: GroupStore,
  ) {}

  async execute(q: GetHistoryQuery): Promise<History> {
    // The conversation is derived from the caller and the talker: a user can only name their own.
    // In a group, a member reads only the messages after their join and, once gone, none after
    // they left.
    let conversationId = privateConversationId(q.ownerUid, q.talkerId);
    let afterSeqno: number | null = null;
    let uptoSeqno: number | null = null;
    if (q.sessionType === 2) {
      const window = await this.groups.window(q.talkerId, q.ownerUid);
      if (!window) {
        const group = await this.groupStore.existing(q.talkerId);
        if (!group.members.has(q.ownerUid)) throw GroupErrors.notMember(q.talkerId);
        // A member whose join the read model has yet to apply: nothing of theirs to read yet.
        return { messages: [], has_more: 0, min_seqno: null, max_seqno: null };
      }
      conversationId = groupConversationId(q.talkerId);
      afterSeqno = window.afterSeqno;
      uptoSeqno = window.uptoSeqno;
    }
    const begin = Math.max(q.beginSeqno ?? 0, afterSeqno ?? 0);
    const end = uptoSeqno === null ? q.endSeqno : Math.min(q.endSeqno ?? Infinity, uptoSeqno + 1);
    const ascending = q.beginSeqno !== null;
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${messageColumns('m')} FROM rm_messages m
        WHERE m.conversation_id = $1
          AND m.msg_status <> 2 -- recalled by the system: gone from history
          AND ($2::bigint IS NULL OR m.msg_seqno > $2)
          AND ($3::bigint IS NULL OR m.msg_seqno < $3)
        ORDER BY m.msg_seqno ${ascending ? 'ASC' : 'DESC'}
        LIMIT $4`,
      [conversationId, begin > 0 ? begin : null, end, q.size + 1],
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
