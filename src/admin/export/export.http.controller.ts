import { Controller, Get, Inject, Query, Res, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { once } from 'node:events';
import type { Pool } from 'pg';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Errors } from '../../common/errors';
import { Public, RequestMetadata } from '../../common/http/request-context';
import { PG_POOL } from '../../core/core.module';
import { readDataKeys } from '../../crypto/key-ring';
import { EventMetadata, EventStore } from '../../event-store/event-store.port';
import { recordAdminOperation } from '../admin-actions';
import {
  ExportFilter,
  exportInstant,
  exportLines,
  ExportResult,
  filterText,
} from './export-events';
import { ExportQueryDto } from './export.request.dto';
import { errorLine } from './ndjson-format';

/**
 * The log as NDJSON over REST, for administrators (X-Admin-Key): `npm run admin -- export` too.
 * Streams the response page by page; a client that goes away stops the export.
 */
@ApiTags('admin: export')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/export')
export class ExportHttpController {
  constructor(
    private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @Get()
  @ApiProduces('application/x-ndjson')
  @ApiOperation({
    summary: 'Events of the log as NDJSON, in log order, filtered by stream, category or time',
    description:
      'A header line, one line per event (id, stream, revision, type, created_at, metadata, ' +
      'data as stored: sealed content stays sealed, position), with `with_keys=true` one line ' +
      "per data key the events need (their sealed content's, wrapped under the master key; erased " +
      "users', destroyed), a summary " +
      'line with the count. ' +
      'An export that fails after it started ends with an {"error": …} line instead of the ' +
      'summary. See docs/admin/streams-export-erasure.md.',
  })
  async export(
    @Query() q: ExportQueryDto,
    @RequestMetadata() m: EventMetadata,
    @Res() res: Response,
  ): Promise<void> {
    const filter: ExportFilter = {
      streams: q.stream,
      categories: q.category,
      since: q.since === undefined ? undefined : exportInstant(q.since, 'since'),
      until: q.until === undefined ? undefined : exportInstant(q.until, 'until'),
    };
    if (filter.since && filter.until && filter.since >= filter.until) {
      throw Errors.validation('since must be before until');
    }
    const withKeys = q.with_keys === 'true';
    const gone = new AbortController();
    res.on('close', () => gone.abort(new Error('the client went away')));
    res.status(200);
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="events-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson"`,
    );
    res.setHeader('Cache-Control', 'no-store');
    let exported = 0;
    let keys: Record<string, number> = {};
    let outcome = 'completed';
    let error: string | undefined;
    try {
      const lines = exportLines(this.store, filter, {
        signal: gone.signal,
        onProgress: (p) => (exported = p.exported),
        keys: withKeys ? (uids) => readDataKeys(this.pool, uids) : undefined,
      });
      let next: IteratorResult<string, ExportResult>;
      while (!(next = await lines.next()).done) {
        if (!res.write(next.value)) await once(res, 'drain', { signal: gone.signal });
      }
      exported = next.value.exported;
      keys = withKeys ? { keys: next.value.keys, keyless: next.value.keyless } : {};
    } catch (err) {
      outcome = gone.signal.aborted ? 'interrupted' : 'failed';
      error = err instanceof Error ? err.message : String(err);
      // The status line is gone: the error goes in the body, in place of the summary.
      if (!gone.signal.aborted) res.write(errorLine(error));
    } finally {
      if (!res.writableEnded) res.end();
    }
    await recordAdminOperation(this.store, m, {
      operation: 'export',
      args: { ...filterText(filter), ...(withKeys ? { keys: true } : {}) },
      outcome,
      detail: { events: exported, ...keys, ...(error ? { error } : {}) },
    }).catch(() => undefined);
  }
}
