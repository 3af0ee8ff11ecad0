import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService, TokenExpiredError } from '@nestjs/jwt';
import { timingSafeEqual } from 'node:crypto';
import { DomainError, ErrorCodes } from '../common/errors';
import { AuthedRequest, AuthUser, IS_PUBLIC } from '../common/http/request-context';
import { APP_SETTINGS, AppSettings } from '../config/app-config';

export interface TokenClaims {
  sub: string;
  plat: number;
  jti: string;
}

/**
 * The user a token names, or a 401 domain error saying why not (40101 expired, 40102 invalid).
 * Every transport that takes user tokens (REST, the compat surfaces, sockets) verifies with this.
 */
export async function verifyUserToken(jwt: JwtService, token: string): Promise<AuthUser> {
  let claims: TokenClaims;
  try {
    claims = await jwt.verifyAsync<TokenClaims>(token, { algorithms: ['HS256'] });
  } catch (err) {
    if (err instanceof TokenExpiredError) {
      throw new DomainError(ErrorCodes.TOKEN_EXPIRED, 401, 'the token has expired; get a new one');
    }
    throw new DomainError(ErrorCodes.TOKEN_INVALID, 401, 'the token is not valid');
  }
  if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string') {
    throw new DomainError(ErrorCodes.TOKEN_INVALID, 401, 'the token is not valid');
  }
  return { uid: claims.sub, platform: Number(claims.plat) || 0, tokenId: claims.jti };
}

/** Every route needs `Authorization: Bearer <jwt>` unless marked {@link Public}. */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new DomainError(
        ErrorCodes.TOKEN_MISSING,
        401,
        'an Authorization: Bearer <token> header is required',
      );
    }
    req.user = await verifyUserToken(this.jwt, match[1]);
    return true;
  }
}

/**
 * Inner (administrative) routes need `X-Admin-Key`. There is no way to leave them open. A request
 * with a user's bearer token and no key is refused 403 (40300); a missing or wrong key 401 (40110).
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  private readonly key: Buffer;

  constructor(@Inject(APP_SETTINGS) settings: AppSettings) {
    this.key = Buffer.from(settings.adminApiKey, 'utf8');
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const given = Buffer.from(req.header('x-admin-key') ?? '', 'utf8');
    const ok =
      this.key.length > 0 && given.length === this.key.length && timingSafeEqual(given, this.key);
    if (!ok) {
      // A user's token, and no key: authenticated, but not an administrator.
      if (given.length === 0 && /^Bearer\s/i.test(req.header('authorization') ?? '')) {
        throw new DomainError(
          ErrorCodes.FORBIDDEN,
          403,
          'this operation is for administrators: it needs the X-Admin-Key header, not a user token',
        );
      }
      throw new DomainError(
        ErrorCodes.ADMIN_KEY_INVALID,
        401,
        'a valid X-Admin-Key header is required',
      );
    }
    return true;
  }
}
