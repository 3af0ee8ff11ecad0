import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { UserDirectory } from '../../../accounts/user-directory';
import { Errors } from '../../../common/errors';
import { MsgKeyGenerator } from '../../../common/ids';
import { StreamCommandProcessor } from '../../../common/stream-command-processor';
import { APP_SETTINGS, AppSettings } from '../../../config/app-config';
import { Clock } from '../../../core/clock';
import { EventStore } from '../../../event-store/event-store.port';
import {
  conversationDecider,
  ConversationCommand,
  ConversationState,
  conversationStream,
  privateConversationId,
  SendResult,
} from '../../domain/conversation';
import { SendMessageCommand, SentMessage } from './send-message.command';

@CommandHandler(SendMessageCommand)
export class SendMessageHandler implements ICommandHandler<SendMessageCommand, SentMessage> {
  private readonly processor: StreamCommandProcessor<
    ConversationState,
    ConversationCommand,
    SendResult
  >;

  constructor(
    store: EventStore,
    private readonly users: UserDirectory,
    private readonly keys: MsgKeyGenerator,
    private readonly clock: Clock,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {
    this.processor = new StreamCommandProcessor(store, conversationDecider);
  }

  async execute({ input, metadata }: SendMessageCommand): Promise<SentMessage> {
    if (input.receiverType !== 1) {
      throw Errors.validation('receiver_type 2 (groups) is not available yet');
    }
    if (input.receiverId !== input.senderUid && !(await this.users.exists(input.receiverId))) {
      throw Errors.userNotFound(input.receiverId);
    }
    const conversationId = privateConversationId(input.senderUid, input.receiverId);
    const { result, position } = await this.processor.execute(
      conversationStream(conversationId),
      {
        kind: 'SendMessage',
        conversationId,
        ...input,
        msgKey: this.keys.next(),
        nowUs: this.clock.nowUs(),
        maxTextLength: this.settings.config.MAX_TEXT_LENGTH,
      },
      metadata,
    );
    return { ...result, position };
  }
}
