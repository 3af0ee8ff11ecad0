import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { AsOfInterceptor } from './as-of.interceptor';
import { ReplayJobs } from './replay-jobs';
import { ProjectionsHttpController, TimeTravelHttpController } from './replay.http.controller';

/**
 * The replay tools over REST (docs/admin/replay.md): projection status, rebuild and verify jobs,
 * time-travel snapshots, and `?as_of=` on every GET endpoint.
 */
@Module({
  controllers: [ProjectionsHttpController, TimeTravelHttpController],
  providers: [ReplayJobs, { provide: APP_INTERCEPTOR, useClass: AsOfInterceptor }],
})
export class ReplayModule {}
