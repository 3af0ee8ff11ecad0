import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { asDomainError, DomainError, ErrorCodes } from '../errors';
import {
  bilibiliErrorEnvelope,
  BilibiliCodes,
  isBilibiliPath,
} from '../../compat/bilibili/bilibili-envelope';
import { isGatewayPath } from '../../compat/gateway/gateway-paths';

interface ErrorBody {
  statusCode: number;
  code: number;
  message: string;
  details?: unknown;
}

/** A body-parser failure (by its `type`) as a domain error with a stable code. */
export function bodyParseError(err: unknown): DomainError {
  const e = err as { type?: string; status?: number; message?: string };
  switch (e?.type) {
    case 'entity.parse.failed':
      return new DomainError(ErrorCodes.MALFORMED_JSON, 400, 'the request body is not valid JSON');
    case 'entity.too.large':
      return new DomainError(ErrorCodes.PAYLOAD_TOO_LARGE, 413, 'the request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new DomainError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 415, 'unsupported body encoding');
    default:
      return new DomainError(
        ErrorCodes.VALIDATION_FAILED,
        e?.status && e.status >= 400 && e.status < 500 ? e.status : 400,
        'the request body could not be read',
      );
  }
}

/** Errors raised by the HTTP stack itself (routing, URL decoding). */
function fromHttpStack(err: unknown): ErrorBody | null {
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const byStatus: Record<number, number> = {
      400: ErrorCodes.VALIDATION_FAILED,
      404: ErrorCodes.ROUTE_NOT_FOUND,
      405: ErrorCodes.METHOD_NOT_ALLOWED,
      413: ErrorCodes.PAYLOAD_TOO_LARGE,
      415: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
    };
    const code = byStatus[status];
    if (code) {
      const message = status === 404 ? 'no such endpoint' : err.message;
      return { statusCode: status, code, message };
    }
  }
  return null;
}

/**
 * The one place where errors become HTTP responses. Native endpoints answer
 * `{ statusCode, code, message }`; the seed gateway's endpoints answer in its envelope
 * `{ code, error }`; OpenIM's group rpcs `{ ErrCode, ErrMsg }`; the Bilibili web API's (src/compat/bilibili) in `{ code, msg, message, ttl }`.
 * Anything unexpected is logged and answered 500 without internals.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(thrown: unknown, host: ArgumentsHost): void {
    const err = asDomainError(thrown);
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    let body: ErrorBody;
    if (err instanceof DomainError) {
      body = { statusCode: err.status, code: err.code, message: err.message };
      if (err !== thrown) {
        this.logger.warn({ err: (thrown as Error).message, reqId: (req as { id?: unknown }).id });
      }
      if (err.details !== undefined) body.details = err.details;
    } else {
      body = fromHttpStack(err) ?? {
        statusCode: 500,
        code: ErrorCodes.INTERNAL,
        message: 'internal error; the request id identifies it in the server log',
      };
      if (body.statusCode === 500) {
        this.logger.error({ err, reqId: (req as { id?: unknown }).id }, 'unhandled error');
      }
    }
    if (res.headersSent) return;
    if (body.code === ErrorCodes.STORE_UNAVAILABLE) res.setHeader('Retry-After', '1');
    if (isGatewayPath(req.path)) {
      res.status(body.statusCode).json({ code: body.code, error: body.message });
      return;
    }
    if (isOpenImPath(req.path)) {
      // The rpc's response message carries ErrCode/ErrMsg; the HTTP status stays truthful.
      res.status(body.statusCode).json({ ErrCode: body.code, ErrMsg: body.message });
      return;
    }
    if (isBilibiliPath(req.path)) {
      // Bilibili answers 200 with the code in the envelope; only a server fault keeps its 5xx.
      const status = body.statusCode >= 500 ? body.statusCode : 200;
      res
        .status(status)
        .json(
          bilibiliErrorEnvelope(req.path, toBilibiliCode(body.code, body.statusCode), body.message),
        );
      return;
    }
    res.status(body.statusCode).json(body);
  }
}

/** Our codes in the Bilibili envelope: Bilibili's general codes for the same meaning. */
const BILIBILI_CODE_OF: Record<number, number> = {
  [ErrorCodes.TOKEN_MISSING]: BilibiliCodes.NOT_LOGGED_IN,
  [ErrorCodes.TOKEN_EXPIRED]: BilibiliCodes.NOT_LOGGED_IN,
  [ErrorCodes.TOKEN_INVALID]: BilibiliCodes.NOT_LOGGED_IN,
  [ErrorCodes.FORBIDDEN]: BilibiliCodes.FORBIDDEN,
  [ErrorCodes.ROUTE_NOT_FOUND]: BilibiliCodes.NOT_FOUND,
  [ErrorCodes.USER_NOT_FOUND]: BilibiliCodes.NOT_FOUND,
  [ErrorCodes.CONTENDED]: BilibiliCodes.OVERLOADED,
};

/**
 * The code a Bilibili client gets: the seed's own codes (10005, 21007 … 25005, 1000004) and
 * Bilibili codes raised by the compat layer (-111) as they are; ours (4xxxx, 5xxxx) as Bilibili's
 * general code of the same meaning, -400 (request error) or -500 when there is no closer one.
 */
export function toBilibiliCode(code: number, status: number): number {
  const mapped = BILIBILI_CODE_OF[code];
  if (mapped !== undefined) return mapped;
  if (code < 40000 || code >= 60000) return code;
  return status >= 500 ? BilibiliCodes.SERVER_ERROR : BilibiliCodes.REQUEST_ERROR;
}

/** OpenIM's group rpcs over HTTP (src/compat/openim): `POST /group/<rpc in snake_case>`. */
export function isOpenImPath(path: string): boolean {
  return path.startsWith('/group/');
}
