import { Command } from '@nestjs/cqrs';
import type { EventMetadata, Position } from '../../../event-store/event-store.port';
import type { EmoticonInfo } from '../../domain/emoticons';
import type { KeyHitInfos } from '../../domain/keyword-rules';
import type { MessageDraft } from '../../messaging.events';

export interface SendMessageInput extends MessageDraft {
  /** Sent by a system account through the inner API: no rate limits or one-message rule. */
  readonly system?: boolean;
}

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
  /** The seed's `e_infos`: emoticons found in a text message. */
  readonly eInfos: readonly EmoticonInfo[];
  /** The seed's `key_hit_infos` and `msg_content`: for one-to-one text messages only. */
  readonly keyHitInfos: KeyHitInfos | null;
  readonly msgContent: string | null;
}

/** A send, or a recall (msg_type 5 with the recalled msg_key as content), as the seed has it. */
export class SendMessageCommand extends Command<SentMessage> {
  constructor(
    readonly input: SendMessageInput,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
