import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { SessionRef } from '../../sessions.events';

export const MAX_BATCH_SESSIONS = 100;

/**
 * Removes sessions from the caller's list (the seed's RemoveSession and BatchRmSessions): each is
 * hidden, and read, up to its newest message, and comes back with the next one. `sessions` null
 * means every one-to-one session with a user the caller does not follow (BatchRmSessions has no
 * parameters: it clears the "unfollowed" folder).
 */
export class RemoveSessionsCommand extends Command<{ removed: number }> {
  constructor(
    readonly ownerUid: string,
    readonly sessions: readonly SessionRef[] | null,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
