import { Module } from '@nestjs/common';
import { AuditReader } from './audit/audit-reader';
import { AuditHttpController } from './audit/audit.http.controller';
import { ReplayModule } from './replay/replay.module';
import { LOG_TOOL_CONTROLLERS } from './streams/log-tools.http';

/**
 * The administrators' REST API for the event log's tools (`/admin/v1/audit`, streams,
 * projections, export/import, erasure, time travel), all behind the admin key. The same
 * operations as `npm run admin -- <command>`; each feature adds its controller and providers here.
 */
@Module({
  imports: [ReplayModule],
  controllers: [AuditHttpController, ...LOG_TOOL_CONTROLLERS],
  providers: [AuditReader],
})
export class AdminHttpModule {}
