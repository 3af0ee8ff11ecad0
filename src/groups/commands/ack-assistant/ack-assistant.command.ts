import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';

export interface AssistantAcked {
  readonly ackSeqno: number;
  /** False when the ack was not beyond what was already acked (nothing written). */
  readonly changed: boolean;
}

/** Bilibili's AckAssisMsg: the owner has read their group assistant up to `ackSeqno`. */
export class AckAssistantCommand extends Command<AssistantAcked> {
  constructor(
    readonly ownerUid: string,
    readonly ackSeqno: number,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
