import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Pool } from 'pg';
import type { Observable } from 'rxjs';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Errors } from '../../common/errors';
import { runInReadSchema } from '../../common/read-schema';
import { APP_SETTINGS, AppSettings } from '../../config/app-config';
import { PG_POOL } from '../../core/core.module';
import { ReplayErrors } from './replay.errors';
import { snapshotSchema } from './time-travel';

/**
 * `?as_of=<snapshot id>` on any GET endpoint: the handler runs unchanged, reading the read models
 * of a time-travel snapshot instead of the live ones (src/common/read-schema.ts). Global, so no
 * endpoint knows about it. Only administrators time-travel: the admin key is needed on top of
 * whatever the endpoint needs (a user's token alone gets 403, 40300); writes with `as_of` are
 * refused (400, 40072); an unknown snapshot is 404 (40470), one not built yet 409 (40971). The
 * parameter is taken out of the query before the endpoint's own validation sees it.
 */
@Injectable()
export class AsOfInterceptor implements NestInterceptor {
  private readonly adminKey: AdminKeyGuard;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(APP_SETTINGS) settings: AppSettings,
  ) {
    this.adminKey = new AdminKeyGuard(settings);
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<Request>();
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
    this.adminKey.canActivate(context);
    if (typeof asOf !== 'string') throw Errors.validation('as_of must be one snapshot id');
    const schema = await snapshotSchema(this.pool, asOf);
    // The handler is called inside the scope (Nest binds it to the context handle() runs in).
    return runInReadSchema(schema, () => next.handle());
  }
}
