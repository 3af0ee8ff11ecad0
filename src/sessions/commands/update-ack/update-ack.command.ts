import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { SessionType } from '../../../messaging/messaging.events';

export interface AckResult {
  /** The session's read progress after the command (unchanged when the ack was not newer). */
  readonly ackSeqno: number;
  readonly changed: boolean;
}

/** The seed's update_ack: the session is read up to `ackSeqno`; progress never moves back. */
export class UpdateAckCommand extends Command<AckResult> {
  constructor(
    readonly ownerUid: string,
    readonly sessionType: SessionType,
    readonly talkerId: string,
    readonly ackSeqno: number,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
