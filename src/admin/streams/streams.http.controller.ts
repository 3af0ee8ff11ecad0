import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Pool } from 'pg';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Public, RequestMetadata } from '../../common/http/request-context';
import { PG_POOL } from '../../core/core.module';
import { KeyRing } from '../../crypto/key-ring';
import { EventMetadata, EventStore } from '../../event-store/event-store.port';
import { recordAdminOperation } from '../admin-actions';
import { inspectStream, listStreams, StreamListing, StreamPage } from './stream-inspection';
import { StreamErrors } from './streams.errors';
import { StreamEventsQueryDto, StreamListQueryDto, StreamParamsDto } from './streams.request.dto';

/**
 * Stream inspection over REST, for administrators (X-Admin-Key): `npm run admin -- stream` too.
 * Every inspection is recorded (AdminOperationRecorded): it shows users' opened content.
 */
@ApiTags('admin: streams')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/streams')
export class StreamsHttpController {
  constructor(
    private readonly store: EventStore,
    private readonly keyRing: KeyRing,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Streams whose id starts with a prefix, in id order, paged (PostgreSQL log only)',
  })
  list(@Query() q: StreamListQueryDto): Promise<StreamListing> {
    if (this.store.adapter !== 'postgres') throw StreamErrors.listingNeedsPostgres();
    return listStreams(this.pool, { prefix: q.prefix, after: q.after, limit: q.limit });
  }

  @Get(':stream_id/events')
  @ApiOperation({
    summary: "A page of a stream's events: revisions, positions, metadata, data",
    description:
      'Sealed fields (message content) are opened where their owner’s key exists; an erased ' +
      "owner's show null with erased: true in `sealed`. Paged by revision: pass " +
      'next_from_revision back as from_revision. See docs/admin/streams-export-erasure.md.',
  })
  async events(
    @Param() p: StreamParamsDto,
    @Query() q: StreamEventsQueryDto,
    @RequestMetadata() m: EventMetadata,
  ): Promise<StreamPage> {
    const args = {
      stream: p.stream_id,
      from_revision: q.from_revision,
      limit: q.limit,
      direction: q.direction,
    };
    try {
      const page = await inspectStream(this.store, this.keyRing, p.stream_id, {
        fromRevision: q.from_revision,
        limit: q.limit,
        direction: q.direction,
      });
      await recordAdminOperation(this.store, m, {
        operation: 'stream',
        args,
        outcome: 'completed',
        detail: { events: page.events.length },
      });
      return page;
    } catch (err) {
      // A look that found nothing is recorded too: someone asked.
      await recordAdminOperation(this.store, m, {
        operation: 'stream',
        args,
        outcome: 'failed',
        detail: { error: err instanceof Error ? err.message : String(err) },
      }).catch(() => undefined);
      throw err;
    }
  }
}
