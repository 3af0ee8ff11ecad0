import { Injectable } from '@nestjs/common';
import { Executed, StreamCommandProcessor } from '../common/stream-command-processor';
import { EventMetadata, EventStore } from '../event-store/event-store.port';
import {
  conversationDecider,
  ConversationCommand,
  ConversationState,
  conversationStream,
  recentSend,
  SendResult,
} from './domain/conversation';

/** The conversation aggregates, shared by sends, recalls and system recalls (one cache). */
@Injectable()
export class ConversationStore {
  private readonly processor: StreamCommandProcessor<
    ConversationState,
    ConversationCommand,
    SendResult
  >;

  constructor(store: EventStore) {
    this.processor = new StreamCommandProcessor(store, conversationDecider);
  }

  execute(command: ConversationCommand, metadata: EventMetadata): Promise<Executed<SendResult>> {
    return this.processor.execute(conversationStream(command.conversationId), command, metadata);
  }

  /**
   * The first answer to a retried dev_id, read fresh from the store, or null when the dev_id is not
   * among the conversation's recent sends.
   */
  async earlierSend(
    conversationId: string,
    senderUid: string,
    devId: string,
  ): Promise<SendResult | null> {
    const state = await this.processor.read(conversationStream(conversationId), 0);
    const earlier = recentSend(state, senderUid, devId);
    return earlier ? { ...earlier, conversationId, duplicate: true } : null;
  }
}
