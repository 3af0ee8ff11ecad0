import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { allProjectors } from '../../../projections';
import { DomainError } from '../../common/errors';
import { APP_SETTINGS, AppSettings } from '../../config/app-config';
import { PG_POOL } from '../../core/core.module';
import { KeyRing } from '../../crypto/key-ring';
import { EventMetadata, EventStore } from '../../event-store/event-store.port';
import { recordAdminOperation } from '../admin-actions';
import { tablesOf } from './projection-set';
import type { ReplayDeps } from './replay-common';
import { ReplayErrors } from './replay.errors';
import { ReplayInterruptedError, ReplayProgress } from './replay-progress';

export type JobKind = 'rebuild' | 'verify' | 'time-travel';
export type JobStatus = 'running' | 'completed' | 'differs' | 'failed' | 'interrupted';

/** A job as GET …/{job_id} shows it. */
export interface JobView {
  readonly job_id: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly progress: {
    readonly phase: string;
    readonly events_applied: number;
    readonly events_remaining: number | null;
    readonly events_per_second: number;
    readonly eta_seconds: number | null;
  };
  /** What the operation returned (see docs/admin/replay.md), once it has ended. */
  readonly result: unknown;
  readonly error: { readonly code: number | null; readonly message: string } | null;
}

interface Job {
  readonly id: string;
  readonly kind: JobKind;
  status: JobStatus;
  readonly startedAt: Date;
  finishedAt: Date | null;
  progress: ReplayProgress;
  result: unknown;
  error: { code: number | null; message: string } | null;
  readonly controller: AbortController;
  done: Promise<void>;
}

/** What a job's operation gets. */
export interface JobContext {
  readonly deps: ReplayDeps;
  /**
   * The key ring of `deps.projectors`, the job's own: it follows key destroys made anywhere
   * (KeyRing.listen) while the job runs, so a user erased during a long rebuild is not decrypted
   * from a cached key; closed when the job ends.
   */
  readonly keyRing: KeyRing;
  readonly signal: AbortSignal;
  readonly onProgress: (progress: ReplayProgress) => void;
  /** The operation calls it once it is under way (checked, locked); errors before it are the request's. */
  readonly onStarted: () => void;
}

export interface JobSpec<R> {
  readonly kind: JobKind;
  /** As recorded in the audit log (AdminOperationRecorded). */
  readonly operation: string;
  readonly args: Record<string, unknown>;
  readonly metadata: EventMetadata;
  readonly run: (context: JobContext) => Promise<R>;
  /** How a result ends the job: `completed`, or `differs` (verify). */
  readonly outcome?: (result: R) => JobStatus;
}

const KEEP_FINISHED = 100;
/**
 * Jobs running at once on one node. They share the API's process (a build keeps a core busy):
 * more would starve the requests the node is there to serve.
 */
export const MAX_RUNNING_JOBS = 2;

/**
 * Connections of a job's own pool: a rebuild's lanes (one per projector), its lock, its reads.
 * A job never waits for a connection of the API's pool, which its swap would otherwise do while
 * holding the lock that pauses the live projections (whose batch holds one of those connections).
 */
export const JOB_POOL_SIZE = 10;

/**
 * The replay tools' long operations started over REST (rebuild, verify, time travel), run in the
 * background of this process. A job is kept in this node's memory (the last 100 finished ones
 * too): ask the node that started it. The work itself is coordinated in the database (locks,
 * schemas), so what a job leaves behind is visible from every node and the CLI. Stopping the
 * server interrupts running jobs at a safe point; run them again to resume.
 */
@Injectable()
export class ReplayJobs implements OnApplicationShutdown {
  private readonly log = new Logger('replay');
  private readonly jobs = new Map<string, Job>();
  /** Jobs started and not yet ended, counted from the request that starts them. */
  private running = 0;
  private readModelTables: readonly string[] | null = null;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly store: EventStore,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  /** The projectors over a key ring of their own, as a rebuild needs them. */
  deps(keyRing = new KeyRing(this.pool, this.settings.masterKey), pool = this.pool): ReplayDeps {
    return { pool, store: this.store, projectors: allProjectors(keyRing) };
  }

  /** Every read-model table (of every projector): what a time-travel snapshot copies. */
  tables(): readonly string[] {
    this.readModelTables ??= tablesOf(this.deps().projectors);
    return this.readModelTables;
  }

  /**
   * Starts a job and resolves with its view once the operation is under way; an operation that
   * fails before that (bad names: 400, already running: 409) rejects instead, and no job is kept.
   * At most {@link MAX_RUNNING_JOBS} run at once on this node: another is refused (409, 40973).
   */
  async start<R>(spec: JobSpec<R>): Promise<JobView> {
    if (this.running >= MAX_RUNNING_JOBS) throw ReplayErrors.tooManyJobs(MAX_RUNNING_JOBS);
    this.running++;
    const keyRing = new KeyRing(this.pool, this.settings.masterKey);
    // Resolves once the first attempt has ended (never rejects): while the listening connection
    // is down, the ring caches no live key, so a destroy is never missed.
    await keyRing.listen();
    const job: Job = {
      id: randomUUID(),
      kind: spec.kind,
      status: 'running',
      startedAt: new Date(),
      finishedAt: null,
      progress: {
        phase: 'preparing',
        eventsApplied: 0,
        eventsRemaining: null,
        eventsPerSecond: 0,
        etaSeconds: null,
      },
      result: null,
      error: null,
      controller: new AbortController(),
      done: Promise.resolve(),
    };
    let started!: () => void;
    let began = false;
    const underway = new Promise<void>((resolve) => (started = resolve));
    // The job's own connections to the same database (JOB_POOL_SIZE).
    const pool = new Pool({ ...this.pool.options, max: JOB_POOL_SIZE });
    pool.on('error', (err) => this.log.warn(`idle job connection error: ${err.message}`));
    const running = spec.run({
      deps: this.deps(keyRing, pool),
      keyRing,
      signal: job.controller.signal,
      onProgress: (p) => (job.progress = p),
      onStarted: () => {
        began = true;
        started();
      },
    });
    // The job shows its end only once that end is recorded in the audit log, so whoever sees a
    // job finished also finds its record.
    let ended: Pick<Job, 'status' | 'result' | 'error'> = job;
    job.done = running
      .then(
        (result) => {
          ended = {
            status: spec.outcome?.(result) ?? 'completed',
            result: toSnakeCase(result),
            error: null,
          };
        },
        (err: unknown) => {
          ended = {
            status: err instanceof ReplayInterruptedError ? 'interrupted' : 'failed',
            result: null,
            error: {
              code: err instanceof DomainError ? err.code : null,
              message: err instanceof Error ? err.message : String(err),
            },
          };
        },
      )
      .finally(async () => {
        this.running--;
        await keyRing.close();
        await pool.end().catch(() => undefined);
        await this.finish(job, ended, spec, began);
        Object.assign(job, ended);
      });
    // Whichever comes first: the operation under way, or its failure before that.
    await Promise.race([underway, running]);
    this.jobs.set(job.id, job);
    this.prune();
    return this.view(job);
  }

  /** Records a short operation (not a job) in the audit log. */
  async record(
    metadata: EventMetadata,
    operation: string,
    args: Record<string, unknown>,
  ): Promise<void> {
    try {
      await recordAdminOperation(this.store, metadata, { operation, args, outcome: 'completed' });
    } catch (err) {
      this.log.warn({ err, msg: `could not record the ${operation} operation` });
    }
  }

  get(kind: JobKind, id: string): JobView {
    const job = this.jobs.get(id);
    if (!job || job.kind !== kind) throw ReplayErrors.jobNotFound(id);
    return this.view(job);
  }

  async onApplicationShutdown(): Promise<void> {
    const jobs = [...this.jobs.values()];
    for (const job of jobs) if (job.status === 'running') job.controller.abort();
    // Every job, ended ones too: one that just ended may still be recording its operation.
    await Promise.all(jobs.map((j) => j.done));
  }

  /** Ends a job; one that got under way is recorded in the audit log, however it ended. */
  private async finish<R>(
    job: Job,
    ended: Pick<Job, 'status' | 'error'>,
    spec: JobSpec<R>,
    began: boolean,
  ): Promise<void> {
    job.finishedAt = new Date();
    // Refused before it began (the request's 400 or 409): nothing was done, nothing to record.
    if (!began) return;
    if (ended.status === 'failed') {
      this.log.warn({ job: job.id, kind: job.kind, err: ended.error?.message, msg: 'job failed' });
    }
    try {
      await recordAdminOperation(this.store, spec.metadata, {
        operation: spec.operation,
        args: spec.args,
        outcome: ended.status,
        detail: { job_id: job.id, ...(ended.error ? { error: ended.error.message } : {}) },
      });
    } catch (err) {
      this.log.warn({ err, msg: `could not record the ${spec.operation} operation` });
    }
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.status !== 'running');
    for (const job of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.jobs.delete(job.id);
    }
  }

  private view(job: Job): JobView {
    const p = job.progress;
    return {
      job_id: job.id,
      kind: job.kind,
      status: job.status,
      started_at: job.startedAt.toISOString(),
      finished_at: job.finishedAt?.toISOString() ?? null,
      progress: {
        phase: p.phase,
        events_applied: p.eventsApplied,
        events_remaining: p.eventsRemaining,
        events_per_second: p.eventsPerSecond,
        eta_seconds: p.etaSeconds === null ? null : Math.round(p.etaSeconds),
      },
      result: job.result,
      error: job.error,
    };
  }
}

/** Object keys in snake_case, as the REST API spells them (row samples are already). */
export function toSnakeCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSnakeCase);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      toSnakeCase(v),
    ]),
  );
}
