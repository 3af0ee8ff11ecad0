/**
 * Failures as EventStoreDB's `RpcExceptions` sends them: a gRPC status plus trailers, `exception`
 * naming the error, which the Node client's `convertToCommandError` turns into its error classes.
 */
import { Metadata, status, type ServerErrorResponse } from '@grpc/grpc-js';

export function rpcError(
  code: status,
  details: string,
  trailers: Record<string, string> = {},
): ServerErrorResponse {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata });
}

/** `RpcExceptions.MaxAppendSizeExceeded` → the client's MaxAppendSizeExceededError. */
export function maxAppendSizeExceeded(maxAppendSize: number): ServerErrorResponse {
  return rpcError(status.INVALID_ARGUMENT, `Maximum Append Size of ${maxAppendSize} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(maxAppendSize),
  });
}

/** `RpcExceptions.RequiredMetadataPropertyMissing`; the trailer lists every required key. */
export function requiredMetadataPropertyMissing(property: string): ServerErrorResponse {
  return rpcError(status.INVALID_ARGUMENT, `Required Metadata Property '${property}' is missing`, {
    exception: 'missing-required-metadata-property',
    'required-metadata-properties': 'type,content-type',
  });
}

/** What ASP.NET gRPC answers when a handler throws an unexpected exception. */
export function handlerFailed(reason: string): ServerErrorResponse {
  return rpcError(status.UNKNOWN, `Exception was thrown by handler. ${reason}`);
}

export function invalidArgument(details: string): ServerErrorResponse {
  return rpcError(status.INVALID_ARGUMENT, details);
}
