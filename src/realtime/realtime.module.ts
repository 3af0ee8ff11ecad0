import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { SessionsModule } from '../sessions/sessions.module';
import { NotifyHttpController } from './notify.http.controller';
import { ProjectionProgress } from './projection-progress';
import { RealtimeFollower } from './realtime-follower';
import { RealtimeGateway } from './realtime.gateway';
import { UserFeeds } from './user-feeds';

/** Realtime delivery: the log follower, the Socket.IO gateway, SSE and long poll (/notify). */
@Module({
  imports: [CqrsModule, SessionsModule],
  controllers: [NotifyHttpController],
  providers: [ProjectionProgress, RealtimeFollower, RealtimeGateway, UserFeeds],
  exports: [RealtimeGateway],
})
export class RealtimeModule {}
