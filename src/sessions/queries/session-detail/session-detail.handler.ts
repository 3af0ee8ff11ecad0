import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { Errors } from '../../../common/errors';
import { SessionReader, toSessionView } from '../../session-reader';
import type { SessionView } from '../../session.view';
import { SessionDetailQuery, SessionDetailsQuery } from './session-detail.query';

@QueryHandler(SessionDetailQuery)
export class SessionDetailHandler implements IQueryHandler<SessionDetailQuery, SessionView> {
  constructor(private readonly reader: SessionReader) {}

  async execute({ ownerUid, ref }: SessionDetailQuery): Promise<SessionView> {
    const [row] = await this.reader.byRefs(ownerUid, [ref]);
    if (!row) throw Errors.sessionNotFound(ref.talkerId, ref.sessionType);
    return toSessionView(row);
  }
}

@QueryHandler(SessionDetailsQuery)
export class SessionDetailsHandler implements IQueryHandler<SessionDetailsQuery, SessionView[]> {
  constructor(private readonly reader: SessionReader) {}

  async execute({ ownerUid, refs }: SessionDetailsQuery): Promise<SessionView[]> {
    return (await this.reader.byRefs(ownerUid, refs)).map(toSessionView);
  }
}
