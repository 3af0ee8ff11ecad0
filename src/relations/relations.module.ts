import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AccountsModule } from '../accounts/accounts.module';
import {
  ChangeRelationHandler,
  SetPrivacyHandler,
} from './commands/change-relation/change-relation.handler';
import { UpdateProfileHandler } from './commands/update-profile/update-profile.handler';
import { UpdateProfileHttpController } from './commands/update-profile/update-profile.http.controller';
import { SyncRelationHandler } from './queries/sync-relation/sync-relation.handler';
import { RelationsHttpController } from './relations.http.controller';
import { UserRelationsStore } from './user-relations.store';

@Module({
  imports: [CqrsModule, AccountsModule],
  controllers: [RelationsHttpController, UpdateProfileHttpController],
  providers: [
    UserRelationsStore,
    ChangeRelationHandler,
    SetPrivacyHandler,
    SyncRelationHandler,
    UpdateProfileHandler,
  ],
  exports: [UserRelationsStore],
})
export class RelationsModule {}
