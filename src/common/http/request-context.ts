import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import type { Actor, EventMetadata } from '../../event-store/event-store.port';

/** The authenticated caller, as the JWT guard leaves it on the request. */
export interface AuthUser {
  readonly uid: string;
  readonly platform: number;
  readonly tokenId: string;
}

export type AuthedRequest = Request & { user?: AuthUser; id?: string | number };

export const IS_PUBLIC = 'im:isPublic';
/** The route needs no bearer token (it may still need the admin key). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthUser => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  return req.user!;
});

/** Event metadata for a command caused by this request: who, from where, which request. */
export function metadataFrom(req: AuthedRequest, actor: Actor): EventMetadata {
  const device = req.header('x-device-id');
  return {
    actor,
    correlationId: req.id !== undefined ? String(req.id) : randomUUID(),
    ip: req.ip,
    device: device ? device.slice(0, 128) : req.user ? `platform:${req.user.platform}` : undefined,
    at: new Date().toISOString(),
  };
}

export const RequestMetadata = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): EventMetadata => {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const actor: Actor = req.user
      ? { kind: 'user', id: req.user.uid }
      : { kind: 'admin', id: 'admin-key' };
    return metadataFrom(req, actor);
  },
);
