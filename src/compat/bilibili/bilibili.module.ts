import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { BilibiliAuthGuard } from './bilibili-auth.guard';
import { SessionSvrHttpController } from './session-svr.http.controller';
import { SvrSyncHttpController } from './svr-sync.http.controller';
import { WebImHttpController } from './web-im.http.controller';

/**
 * The Bilibili web API of the seed (bilibili-private-message-api.md) at its own paths, in its own
 * envelope and wire format: thin controllers over the native command and query buses. Nothing
 * here decides anything; see README.md beside this file for the choices the seed left open.
 */
@Module({
  imports: [CqrsModule],
  controllers: [SessionSvrHttpController, SvrSyncHttpController, WebImHttpController],
  providers: [BilibiliAuthGuard],
})
export class BilibiliCompatModule {}
