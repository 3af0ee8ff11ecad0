import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ListSessionsHandler } from './queries/list-sessions/list-sessions.handler';
import { ListSessionsHttpController } from './queries/list-sessions/list-sessions.http.controller';

@Module({
  imports: [CqrsModule],
  controllers: [ListSessionsHttpController],
  providers: [ListSessionsHandler],
})
export class SessionsModule {}
