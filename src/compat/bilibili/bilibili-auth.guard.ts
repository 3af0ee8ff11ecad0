import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { timingSafeEqual } from 'node:crypto';
import { verifyUserToken } from '../../accounts/auth.guards';
import { DomainError, ErrorCodes } from '../../common/errors';
import type { AuthedRequest } from '../../common/http/request-context';
import { BilibiliCodes } from './bilibili-envelope';
import { fieldsOf } from './bilibili-params';
import { parseCookies } from './cookies';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Who calls a Bilibili endpoint: `Authorization: Bearer <jwt>`, or the cookie `SESSDATA=<jwt>` as
 * the seed's clients send it (`-b 'SESSDATA=xxx'`). The token is the native one, checked with the
 * same JwtService, algorithm and claims as the global JwtAuthGuard (which these routes skip by
 * being `@Public()`: it would refuse a cookie). Failures keep the native codes 40100-40102; the
 * error filter answers them as -101.
 *
 * A cookie is sent by browsers on their own, so a write authenticated by it must also prove that
 * the caller could read the cookies: `csrf` / `csrf_token` (form body or query) must equal the
 * cookie `bili_jct` (the double-submit pattern Bilibili uses), or the request is refused with -111
 * before anything runs. A bearer header is never sent implicitly and needs no csrf.
 */
@Injectable()
export class BilibiliAuthGuard implements CanActivate {
  constructor(private readonly jwt: JwtService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '');
    const cookies = parseCookies(req.header('cookie'));
    const token = bearer?.[1] ?? cookies.get('SESSDATA');
    if (!token) {
      throw new DomainError(
        ErrorCodes.TOKEN_MISSING,
        401,
        'not logged in: send the SESSDATA cookie or an Authorization: Bearer <token> header',
      );
    }
    req.user = await verifyUserToken(this.jwt, token);
    if (!bearer && !SAFE_METHODS.has(req.method)) checkCsrf(req, cookies.get('bili_jct'));
    return true;
  }
}

function sameSecret(given: string, expected: Buffer): boolean {
  const g = Buffer.from(given, 'utf8');
  return g.length === expected.length && timingSafeEqual(g, expected);
}

/**
 * Every csrf value given (`csrf`, `csrf_token`, in the body or the query) must equal `bili_jct`,
 * and at least one must be given.
 */
function checkCsrf(req: AuthedRequest, biliJct: string | undefined): void {
  const given: unknown[] = [];
  for (const source of [fieldsOf(req.body), fieldsOf(req.query)]) {
    for (const name of ['csrf', 'csrf_token']) {
      if (source[name] !== undefined) given.push(source[name]);
    }
  }
  const expected = Buffer.from(biliJct ?? '', 'utf8');
  const ok =
    expected.length > 0 &&
    given.length > 0 &&
    given.every((v) => typeof v === 'string' && sameSecret(v, expected));
  if (!ok) {
    throw new DomainError(
      BilibiliCodes.CSRF_FAILED,
      403,
      'csrf check failed: csrf and csrf_token must equal the bili_jct cookie',
    );
  }
}
