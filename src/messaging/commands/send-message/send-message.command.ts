import { Command } from '@nestjs/cqrs';
import type { EventMetadata, Position } from '../../../event-store/event-store.port';
import type { MessageDraft } from '../../messaging.events';

export type SendMessageInput = MessageDraft;

export interface SentMessage {
  readonly msgKey: string;
  readonly seqno: number;
  /** Send time in microseconds. */
  readonly sentAtUs: number;
  readonly conversationId: string;
  /** True when the dev_id was sent before and this is the first send's answer. */
  readonly duplicate: boolean;
  /** Position of the event in the log (null for a duplicate answered from memory). */
  readonly position: Position | null;
}

export class SendMessageCommand extends Command<SentMessage> {
  constructor(
    readonly input: SendMessageInput,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
