import { Module } from '@nestjs/common';

/**
 * The administrators' REST API for the event log's tools (`/admin/v1/audit`, streams,
 * projections, export/import, erasure, time travel), all behind the admin key. The same
 * operations as `npm run admin -- <command>`; each feature adds its controller and providers here.
 */
@Module({
  controllers: [],
  providers: [],
})
export class AdminHttpModule {}
