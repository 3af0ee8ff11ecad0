import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, ErrorCodes } from '../errors';

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
 * `{ code, error }`. Anything unexpected is logged and answered 500 without internals.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    let body: ErrorBody;
    if (err instanceof DomainError) {
      body = { statusCode: err.status, code: err.code, message: err.message };
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
    if (isGatewayPath(req.path)) {
      res.status(body.statusCode).json({ code: body.code, error: body.message });
      return;
    }
    res.status(body.statusCode).json(body);
  }
}

/** Endpoints that speak the seed gateway's envelope (go-im-gateway-api.md). */
export function isGatewayPath(path: string): boolean {
  return path.startsWith('/inner/');
}
