import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { Pool } from 'pg';
import { catchError, from, mergeMap, type Observable } from 'rxjs';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Errors } from '../../common/errors';
import { AuthedRequest, metadataFrom } from '../../common/http/request-context';
import { runInReadSchema } from '../../common/read-schema';
import { APP_SETTINGS, AppSettings } from '../../config/app-config';
import { PG_POOL } from '../../core/core.module';
import { EventStore } from '../../event-store/event-store.port';
import { recordAdminOperation } from '../admin-actions';
import { ReplayJobs } from './replay-jobs';
import { ReplayErrors } from './replay.errors';
import { LiveFingerprintCache, snapshotSchema } from './time-travel';

/**
 * Routes that follow what happens now (`/notify`: Server-Sent Events or long poll): a snapshot
 * has no future to follow, and their catch-up would mix the snapshot's read models with the live
 * log. Matched on the route as registered (Express's req.route), not on the URL as typed.
 */
const LIVE_FEEDS: ReadonlySet<string> = new Set(['/notify']);

/** PostgreSQL: a column or a table the query names does not exist (in the snapshot). */
const UNDEFINED_OBJECT = new Set(['42703', '42P01']);

/**
 * `?as_of=<snapshot id>` on any GET endpoint: the handler runs unchanged, reading the read models
 * of a time-travel snapshot instead of the live ones (src/common/read-schema.ts). Global, so no
 * endpoint knows about it. Only administrators time-travel: the admin key is needed on top of
 * whatever the endpoint needs (a user's token alone gets 403, 40300); writes with `as_of` are
 * refused (400, 40072), and so are live feeds (400, 40074); an unknown snapshot is 404 (40470),
 * one not built yet 409 (40971), one made before a migration of the read models 409 (40972).
 * Each read it lets through is recorded as an administrator's operation (`as-of-read`, actor
 * `admin:admin-key`), before the handler runs: it opens users' content as it was. The parameter
 * is taken out of the query before the endpoint's own validation sees it.
 */
@Injectable()
export class AsOfInterceptor implements NestInterceptor {
  private readonly adminKey: AdminKeyGuard;
  private readonly fingerprint: LiveFingerprintCache;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(APP_SETTINGS) settings: AppSettings,
    private readonly store: EventStore,
    jobs: ReplayJobs,
  ) {
    this.adminKey = new AdminKeyGuard(settings);
    this.fingerprint = new LiveFingerprintCache(pool, () => jobs.tables());
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const query = req.query as Record<string, unknown> | undefined;
    if (!query || !Object.hasOwn(query, 'as_of')) return next.handle();
    const { as_of: asOf, ...rest } = query;
    // Express computes req.query on each read; an own property hides the parsed one.
    Object.defineProperty(req, 'query', {
      value: rest,
      writable: true,
      configurable: true,
      enumerable: true,
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') throw ReplayErrors.asOfReadOnly(req.method);
    const route = (req.route as { path?: unknown } | undefined)?.path;
    if (typeof route === 'string' && LIVE_FEEDS.has(route)) {
      throw ReplayErrors.asOfLiveFeed(route);
    }
    this.adminKey.canActivate(context);
    if (typeof asOf !== 'string') throw Errors.validation('as_of must be one snapshot id');
    const schema = await snapshotSchema(this.pool, asOf, () => this.fingerprint.get());
    // Recorded before anything is read; a read that cannot be recorded does not happen.
    await recordAdminOperation(this.store, metadataFrom(req, { kind: 'admin', id: 'admin-key' }), {
      operation: 'as-of-read',
      args: {
        snapshot: asOf,
        method: req.method,
        path: req.path,
        route: typeof route === 'string' ? route : null,
        uid: req.user?.uid ?? null,
      },
      outcome: 'completed',
    });
    // The handler is called inside the scope (Nest binds it to the context handle() runs in).
    // What it answers is let through only if the snapshot is still there once it has read: a
    // snapshot dropped meanwhile leaves its name on the connections' search path, and a query
    // planned after the drop finds the live table of that name in `public` instead.
    return runInReadSchema(schema, () => next.handle()).pipe(
      mergeMap(async (answer: unknown) => {
        await snapshotSchema(this.pool, asOf, () => this.fingerprint.get());
        return answer;
      }),
      catchError((err: unknown) => from(this.explained(err, asOf))),
    );
  }

  /**
   * A query PostgreSQL refused, checked against the snapshot afresh: gone or no longer ready
   * (dropped meanwhile, which can also fail a reader as a deadlock), 404 or 409; made before the
   * live definitions (a query that named a column or table the snapshot lacks: a migration ran
   * within the fingerprint's cache time), 40972. Otherwise the error as it was.
   */
  private async explained(err: unknown, id: string): Promise<never> {
    const { code, severity } = (err ?? {}) as { code?: unknown; severity?: unknown };
    if (typeof severity === 'string') {
      const undefinedObject = typeof code === 'string' && UNDEFINED_OBJECT.has(code);
      await snapshotSchema(this.pool, id, () =>
        undefinedObject ? this.fingerprint.refresh() : this.fingerprint.get(),
      );
    }
    throw err;
  }
}
