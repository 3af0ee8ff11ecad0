import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AccountsModule } from '../../accounts/accounts.module';
import { GroupsModule } from '../../groups/groups.module';
import { GatewayConversationHttpController } from './conversation.http.controller';
import { GatewayReader } from './gateway-reader';
import { GatewayService } from './gateway.service';
import { GatewayInnerHttpController } from './inner.http.controller';
import { GatewayMessageHttpController } from './message.http.controller';

/**
 * The Go IM gateway's conversation and message operations (go-im-gateway-api.md) at its paths and
 * in its envelope, over the native command and query buses. A conversation is a group; see
 * README.md beside this file.
 */
@Module({
  imports: [CqrsModule, AccountsModule, GroupsModule],
  controllers: [
    GatewayConversationHttpController,
    GatewayMessageHttpController,
    GatewayInnerHttpController,
  ],
  providers: [GatewayService, GatewayReader],
})
export class GatewayCompatModule {}
