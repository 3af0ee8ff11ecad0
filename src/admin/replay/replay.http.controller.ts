import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Public, RequestMetadata } from '../../common/http/request-context';
import { parseInstant } from '../audit/audit-query';
import type { EventMetadata } from '../../event-store/event-store.port';
import { selectProjections } from './projection-set';
import { projectionStatus } from './projection-status';
import { rebuild } from './rebuild';
import { JobView, ReplayJobs } from './replay-jobs';
import {
  JobParamsDto,
  JobStartedDto,
  ProjectionsDto,
  SnapshotParamsDto,
  TimeTravelDto,
  VerifyDto,
} from './replay.request.dto';
import { ReplayErrors } from './replay.errors';
import {
  buildSnapshot,
  dropSnapshot,
  getSnapshot,
  listSnapshots,
  SnapshotInfo,
} from './time-travel';
import { verify } from './verify';

/**
 * The projections over REST, for administrators (X-Admin-Key): their status, and rebuild and
 * verify as background jobs (the same operations as `npm run admin -- projections | rebuild |
 * verify`; docs/admin/replay.md).
 */
@ApiTags('admin: projections')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/projections')
export class ProjectionsHttpController {
  constructor(private readonly jobs: ReplayJobs) {}

  @Get()
  @ApiOperation({
    summary:
      "Each projection's checkpoint, events applied, lag (events, seconds), events/s, last error; rebuilds under way",
  })
  status() {
    const deps = this.jobs.deps();
    return projectionStatus(
      deps.pool,
      deps.store,
      deps.projectors.map((p) => p.name),
    );
  }

  @Post('rebuild')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Rebuild projections from position zero in shadow tables, then swap them in',
    description:
      'Starts a job (202); follow it with GET /admin/v1/projections/rebuild/{job_id}. The live ' +
      'read models serve throughout; an interrupted rebuild resumes when started again.',
  })
  @ApiResponse({ status: 202, type: JobStartedDto })
  startRebuild(@Body() dto: ProjectionsDto, @RequestMetadata() m: EventMetadata): Promise<JobView> {
    const projections = this.checked(dto.projections);
    return this.jobs.start({
      kind: 'rebuild',
      operation: 'rebuild',
      args: { projection: projections },
      metadata: m,
      run: (c) =>
        rebuild(c.deps, {
          projections,
          signal: c.signal,
          onProgress: c.onProgress,
          onStarted: c.onStarted,
        }),
    });
  }

  @Get('rebuild/:job_id')
  @ApiOperation({ summary: 'A rebuild job: progress (events/s, ETA), then its result' })
  rebuildJob(@Param() p: JobParamsDto): JobView {
    return this.jobs.get('rebuild', p.job_id);
  }

  @Post('verify')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Rebuild projections beside the live ones, up to their position, and report every difference',
    description:
      'Starts a job (202); GET /admin/v1/projections/verify/{job_id} ends with status ' +
      '`completed` (equal) or `differs`, and the differences per table.',
  })
  @ApiResponse({ status: 202, type: JobStartedDto })
  startVerify(@Body() dto: VerifyDto, @RequestMetadata() m: EventMetadata): Promise<JobView> {
    const projections = this.checked(dto.projections);
    return this.jobs.start({
      kind: 'verify',
      operation: 'verify',
      args: { projection: projections },
      metadata: m,
      run: (c) =>
        verify(c.deps, {
          projections,
          maxRows: dto.max_rows,
          signal: c.signal,
          onProgress: c.onProgress,
          onStarted: c.onStarted,
        }),
      outcome: (r) => (r.equal ? 'completed' : 'differs'),
    });
  }

  @Get('verify/:job_id')
  @ApiOperation({ summary: 'A verify job: progress, then the differences found' })
  verifyJob(@Param() p: JobParamsDto): JobView {
    return this.jobs.get('verify', p.job_id);
  }

  /** Unknown names answer 400 (40070) here, before a job starts. */
  private checked(names: readonly string[] = []): string[] {
    selectProjections(this.jobs.deps().projectors, names);
    return [...new Set(names)];
  }
}

/**
 * Time travel over REST (X-Admin-Key): build the read models as they were at a time or position
 * into a snapshot, list and drop snapshots. Any GET endpoint of the API then reads a snapshot
 * with `?as_of=<id>` and the admin key on top of the user's token.
 */
@ApiTags('admin: time travel')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/time-travel')
export class TimeTravelHttpController {
  constructor(private readonly jobs: ReplayJobs) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Build a snapshot of every read model at a time (at) or a position',
    description:
      'Starts a job (202) and answers the snapshot id once its schema exists; the snapshot is ' +
      '`building` until ready (GET /admin/v1/time-travel/{id}). Then query any GET endpoint ' +
      'with ?as_of={id}. `at` needs its zone (Z or ±hh:mm) and a time at or after the first ' +
      'event (else 40073).',
  })
  async build(@Body() dto: TimeTravelDto, @RequestMetadata() m: EventMetadata) {
    if ((dto.at === undefined) === (dto.position === undefined)) {
      throw ReplayErrors.timeTravelTarget('give either at (an ISO time) or position, not both');
    }
    // With its zone, as the audit and the export read times (a bare time would be the server's).
    const at =
      dto.at === undefined ? undefined : new Date(Number(parseInstant(dto.at, 'at').us / 1000n));
    let id = '';
    const [commit, prepare] = dto.position?.split('/') ?? [];
    const job = await this.jobs.start({
      kind: 'time-travel',
      operation: 'time-travel',
      args: dto.at ? { at: dto.at } : { position: dto.position },
      metadata: m,
      run: (c) =>
        buildSnapshot(c.deps, {
          at,
          position:
            dto.position === undefined
              ? undefined
              : { commit: BigInt(commit), prepare: BigInt(prepare) },
          signal: c.signal,
          onProgress: c.onProgress,
          onStarted: (s) => {
            id = s.id;
            c.onStarted();
          },
        }),
    });
    return { id, state: 'building', job_id: job.job_id, job_status: job.status };
  }

  @Get()
  @ApiOperation({
    summary:
      'Every snapshot: state (building, ready, interrupted, stale: made before a migration), time or position, size',
  })
  async list(): Promise<{ snapshots: unknown[] }> {
    const snapshots = await listSnapshots(this.jobs.deps().pool, this.jobs.tables());
    return { snapshots: snapshots.map(view) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One snapshot (404 40470 when there is none)' })
  async one(@Param() p: SnapshotParamsDto) {
    const snapshot = await getSnapshot(this.jobs.deps().pool, p.id, this.jobs.tables());
    if (!snapshot) throw ReplayErrors.snapshotNotFound(p.id);
    return view(snapshot);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Drop a snapshot (409 40970 while it is being built)' })
  async drop(@Param() p: SnapshotParamsDto, @RequestMetadata() m: EventMetadata) {
    const snapshot = await dropSnapshot(this.jobs.deps().pool, p.id, this.jobs.tables());
    await this.jobs.record(m, 'time-travel-drop', { snapshot: p.id });
    return { dropped: view(snapshot) };
  }
}

function view(s: SnapshotInfo) {
  return {
    id: s.id,
    state: s.state,
    at: s.at,
    position: s.position,
    projections: s.projections,
    created_at: s.createdAt,
    ready_at: s.readyAt,
    events: s.events,
    bytes: s.bytes,
  };
}
