import { Query } from '@nestjs/cqrs';
import type { SessionRef } from '../../sessions.events';
import type { SessionView } from '../../session.view';

/** One session (the seed's session_detail); 1000004 when the caller never chatted there. */
export class SessionDetailQuery extends Query<SessionView> {
  constructor(
    readonly ownerUid: string,
    readonly ref: SessionRef,
  ) {
    super();
  }
}

/**
 * Several sessions at once (BatchSessDetail, GetSpecificSessions): those that exist, in the order
 * asked; the others are left out.
 */
export class SessionDetailsQuery extends Query<SessionView[]> {
  constructor(
    readonly ownerUid: string,
    readonly refs: readonly SessionRef[],
  ) {
    super();
  }
}

export const MAX_SESSION_REFS = 100;
