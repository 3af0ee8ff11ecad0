import { Injectable } from '@nestjs/common';
import { Executed, StreamCommandProcessor } from '../common/stream-command-processor';
import { EventMetadata, EventStore } from '../event-store/event-store.port';
import {
  conversationDecider,
  ConversationCommand,
  ConversationState,
  conversationStream,
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
}
