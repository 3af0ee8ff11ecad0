import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';

/** The seed's UpdateUnflwRead: every session with a user the caller does not follow is read. */
export class ReadUnfollowedCommand extends Command<{ sessions: number }> {
  constructor(
    readonly ownerUid: string,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
