import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AccountsModule } from '../accounts/accounts.module';
import { SendMessageHandler } from './commands/send-message/send-message.handler';
import { SendMessageHttpController } from './commands/send-message/send-message.http.controller';
import { GetHistoryHandler } from './queries/get-history/get-history.handler';
import { GetHistoryHttpController } from './queries/get-history/get-history.http.controller';

@Module({
  imports: [CqrsModule, AccountsModule],
  controllers: [SendMessageHttpController, GetHistoryHttpController],
  providers: [SendMessageHandler, GetHistoryHandler],
})
export class MessagingModule {}
