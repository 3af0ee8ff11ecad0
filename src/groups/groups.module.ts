import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AccountsModule } from '../accounts/accounts.module';
import { AckAssistantHandler } from './commands/ack-assistant/ack-assistant.handler';
import { ChangeGroupHandler } from './commands/change-group/change-group.handler';
import { AdminGroupsHttpController } from './admin-groups.http.controller';
import { GroupReader } from './group-reader';
import { GroupsHttpController } from './groups.http.controller';
import { GroupStore } from './group.store';

/** Groups: their aggregate (GroupStore), the change handler and the read models' reader. */
@Module({
  imports: [CqrsModule, AccountsModule],
  controllers: [GroupsHttpController, AdminGroupsHttpController],
  providers: [GroupStore, GroupReader, ChangeGroupHandler, AckAssistantHandler],
  exports: [GroupStore, GroupReader],
})
export class GroupsModule {}
