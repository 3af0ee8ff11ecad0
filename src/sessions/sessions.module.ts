import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { GroupsModule } from '../groups/groups.module';
import { ReadUnfollowedHandler } from './commands/read-unfollowed/read-unfollowed.handler';
import { RemoveSessionsHandler } from './commands/remove-sessions/remove-sessions.handler';
import { SessionSettingsHttpController } from './commands/session-settings.http.controller';
import { SetSessionFlagHandler } from './commands/set-session-flag/set-session-flag.handler';
import { UpdateAckHandler } from './commands/update-ack/update-ack.handler';
import {
  ListSessionsHandler,
  NewSessionsHandler,
} from './queries/list-sessions/list-sessions.handler';
import { ListSessionsHttpController } from './queries/list-sessions/list-sessions.http.controller';
import {
  SessionDetailHandler,
  SessionDetailsHandler,
} from './queries/session-detail/session-detail.handler';
import { SessionDetailHttpController } from './queries/session-detail/session-detail.http.controller';
import { ShareListHandler } from './queries/share-list/share-list.handler';
import { ShareListHttpController } from './queries/share-list/share-list.http.controller';
import { SpecificUnreadHandler, UnreadHandler } from './queries/unread/unread.handler';
import { UnreadHttpController } from './queries/unread/unread.http.controller';
import { SessionEventsWriter } from './session-events.writer';
import { SessionLookup } from './session-lookup';
import { SessionReader } from './session-reader';

@Module({
  imports: [CqrsModule, GroupsModule],
  controllers: [
    ListSessionsHttpController,
    SessionDetailHttpController,
    SessionSettingsHttpController,
    UnreadHttpController,
    ShareListHttpController,
  ],
  providers: [
    SessionReader,
    SessionLookup,
    SessionEventsWriter,
    ListSessionsHandler,
    NewSessionsHandler,
    SessionDetailHandler,
    SessionDetailsHandler,
    UnreadHandler,
    SpecificUnreadHandler,
    ShareListHandler,
    UpdateAckHandler,
    SetSessionFlagHandler,
    RemoveSessionsHandler,
    ReadUnfollowedHandler,
  ],
  exports: [SessionReader],
})
export class SessionsModule {}
