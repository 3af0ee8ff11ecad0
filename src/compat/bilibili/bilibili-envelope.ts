import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { map, Observable } from 'rxjs';
import { stringifyRaw } from './raw-json';

/**
 * The URL prefixes of the Bilibili web API (bilibili-private-message-api.md). Every answer under
 * them, success or error, is the seed's envelope `{code, msg, message, ttl, data}`.
 */
export const BILIBILI_PREFIXES = ['/session_svr/', '/svr_sync/', '/web_im/'] as const;

/** Endpoints that speak the Bilibili envelope; the error filter answers them in it. */
export function isBilibiliPath(path: string): boolean {
  return BILIBILI_PREFIXES.some((p) => path.startsWith(p));
}

/** Bilibili's general codes, next to the seed's domain codes that the API keeps as they are. */
export const BilibiliCodes = {
  OK: 0,
  NOT_LOGGED_IN: -101,
  /** Bilibili's "CSRF 校验失败". */
  CSRF_FAILED: -111,
  REQUEST_ERROR: -400,
  FORBIDDEN: -403,
  NOT_FOUND: -404,
  SERVER_ERROR: -500,
  OVERLOADED: -503,
} as const;

export interface BilibiliEnvelope {
  code: number;
  msg: string;
  message: string;
  ttl: 1;
  data?: unknown;
}

/**
 * The envelope of an error. `data` follows the seed per endpoint: send_msg answers
 * `"data": null`, the others (update_ack: "无效时:不存在该项") leave it out.
 */
export function bilibiliErrorEnvelope(
  path: string,
  code: number,
  message: string,
): BilibiliEnvelope {
  const envelope: BilibiliEnvelope = { code, msg: message, message, ttl: 1 };
  if (path.startsWith('/web_im/v1/web_im/send_msg')) envelope.data = null;
  return envelope;
}

/**
 * Wraps what a compat handler returns as the success envelope and writes it with
 * {@link stringifyRaw}, so 64-bit ids leave as exact JSON numbers. Nest sends a string body as is
 * once the content type is set.
 */
@Injectable()
export class BilibiliEnvelopeInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<string> {
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      map((data: unknown) => {
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        return stringifyRaw({ code: BilibiliCodes.OK, msg: '0', message: '0', ttl: 1, data });
      }),
    );
  }
}
