/**
 * Domain errors: thrown by deciders and handlers, which know nothing of transports. One place
 * (src/common/http/error.filter.ts) maps them to HTTP statuses and envelopes. `code` is stable:
 * the seed's code where one means the same thing, otherwise one of ours (docs/errors.md).
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: number,
    /** The HTTP status this error maps to. */
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const ErrorCodes = {
  VALIDATION_FAILED: 40000,
  MALFORMED_JSON: 40001,
  TOKEN_MISSING: 40100,
  TOKEN_EXPIRED: 40101,
  TOKEN_INVALID: 40102,
  ADMIN_KEY_INVALID: 40110,
  ROUTE_NOT_FOUND: 40400,
  USER_NOT_FOUND: 40401,
  METHOD_NOT_ALLOWED: 40500,
  EVENT_ID_CONFLICT: 40900,
  PAYLOAD_TOO_LARGE: 41300,
  UNSUPPORTED_MEDIA_TYPE: 41500,
  INTERNAL: 50000,
  CONTENDED: 50301,
  // The seed's codes (bilibili-private-message-api.md, send_msg).
  MSG_TOO_LONG: 21007,
  SEND_TO_SELF: 21026,
  MSG_TYPE_UNSUPPORTED: 21035,
} as const;

export const Errors = {
  validation: (message: string, details?: unknown) =>
    new DomainError(ErrorCodes.VALIDATION_FAILED, 400, message, details),
  userNotFound: (uid: string) =>
    new DomainError(ErrorCodes.USER_NOT_FOUND, 404, `user ${uid} does not exist`),
  messageTooLong: (max: number) =>
    new DomainError(ErrorCodes.MSG_TOO_LONG, 400, `message text is longer than ${max} characters`),
  sendToSelf: () =>
    new DomainError(ErrorCodes.SEND_TO_SELF, 400, 'a message cannot be sent to yourself'),
  msgTypeUnsupported: (msgType: number) =>
    new DomainError(
      ErrorCodes.MSG_TYPE_UNSUPPORTED,
      400,
      `messages of msg_type ${msgType} cannot be sent`,
    ),
  eventIdConflict: (streamId: string) =>
    new DomainError(
      ErrorCodes.EVENT_ID_CONFLICT,
      409,
      `the request's id was already used for a different write than this one (${streamId})`,
    ),
  contended: (streamId: string) =>
    new DomainError(
      ErrorCodes.CONTENDED,
      503,
      `too many concurrent writes to ${streamId}; retry the request`,
    ),
};
