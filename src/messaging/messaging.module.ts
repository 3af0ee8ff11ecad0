import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AccountsModule } from '../accounts/accounts.module';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { GroupsModule } from '../groups/groups.module';
import { RelationsModule } from '../relations/relations.module';
import { AdminMessagesHttpController } from './admin-messages.http.controller';
import { BroadcastHandler } from './commands/broadcast/broadcast.handler';
import { SendMessageHandler } from './commands/send-message/send-message.handler';
import { SendMessageHttpController } from './commands/send-message/send-message.http.controller';
import { SysCancelHandler } from './commands/sys-cancel/sys-cancel.handler';
import { ConversationStore } from './conversation.store';
import { loadContentCatalogs } from './domain/content-catalogs';
import { CONTENT_CATALOGS } from './messaging.tokens';
import { GetHistoryHandler } from './queries/get-history/get-history.handler';
import { GetHistoryHttpController } from './queries/get-history/get-history.http.controller';
import { SendLimits } from './send-limits';

@Module({
  imports: [CqrsModule, AccountsModule, RelationsModule, GroupsModule],
  controllers: [SendMessageHttpController, GetHistoryHttpController, AdminMessagesHttpController],
  providers: [
    ConversationStore,
    SendLimits,
    {
      provide: CONTENT_CATALOGS,
      inject: [APP_SETTINGS],
      // Loaded once at start: a bad catalog file stops the start with the file and the problem.
      useFactory: (settings: AppSettings) =>
        loadContentCatalogs({
          emoticons: settings.config.EMOTICONS_FILE,
          keywordRules: settings.config.KEYWORD_RULES_FILE,
        }),
    },
    SendMessageHandler,
    SysCancelHandler,
    BroadcastHandler,
    GetHistoryHandler,
  ],
})
export class MessagingModule {}
