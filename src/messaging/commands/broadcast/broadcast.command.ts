import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { SendMessageInput } from '../send-message/send-message.command';

export const MAX_BROADCAST_RECEIVERS = 1_000;

/** One receiver's outcome: code 0 and the message, or the error code and its message. */
export interface BroadcastOutcome {
  receiver_id: string;
  code: number;
  message: string;
  msg_key?: string;
  msg_seqno?: number;
}

/**
 * The same message from one system account to many users (TeamTalk's SendBroadCastMessage): one
 * send per receiver, each with its own dev_id derived from the request's, so retrying the whole
 * request sends nobody a second copy.
 */
export class BroadcastCommand extends Command<BroadcastOutcome[]> {
  constructor(
    readonly message: Omit<SendMessageInput, 'receiverId'>,
    readonly receiverIds: readonly string[],
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
