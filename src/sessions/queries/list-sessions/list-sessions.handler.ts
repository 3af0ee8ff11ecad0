import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { SessionReader, SessionRow, toSessionView } from '../../session-reader';
import {
  encodeCursor,
  ListSessionsQuery,
  NewSessionsQuery,
  SessionPage,
} from './list-sessions.query';

function page(rows: SessionRow[], hasMore: boolean): SessionPage {
  const last = rows[rows.length - 1];
  return {
    session_list: rows.map(toSessionView),
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

@QueryHandler(ListSessionsQuery)
export class ListSessionsHandler implements IQueryHandler<ListSessionsQuery, SessionPage> {
  constructor(private readonly reader: SessionReader) {}

  async execute({ ownerUid, options: o }: ListSessionsQuery): Promise<SessionPage> {
    const c = o.cursor;
    const { rows, hasMore } = await this.reader.list(ownerUid, {
      filter: o.filter,
      unfollowFold: o.unfollowFold,
      size: o.size,
      after: c ? [c.topTs, c.sessionTs, c.sessionType, c.talkerId] : undefined,
      beginTs: o.beginTs ?? undefined,
      endTs: o.endTs ?? undefined,
      unpinnedOnly: o.endTs !== null,
    });
    return page(rows, hasMore);
  }
}

@QueryHandler(NewSessionsQuery)
export class NewSessionsHandler implements IQueryHandler<NewSessionsQuery, SessionPage> {
  constructor(private readonly reader: SessionReader) {}

  async execute(q: NewSessionsQuery): Promise<SessionPage> {
    const { rows, hasMore } = await this.reader.list(q.ownerUid, {
      // The main list's sessions: intercepted ones stay in the dustbin.
      filter: 'main',
      unfollowFold: false,
      size: q.size,
      beginTs: q.beginTs,
      byTimeOnly: true,
    });
    // Newest first by time alone: a cursor over (top_ts, ...) would not describe this order.
    return { ...page(rows, false), has_more: hasMore ? 1 : 0 };
  }
}
