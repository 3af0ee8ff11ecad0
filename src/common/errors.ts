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

import { EventStoreUnavailableError } from '../event-store/event-store.port';

export const ErrorCodes = {
  VALIDATION_FAILED: 40000,
  MALFORMED_JSON: 40001,
  TOKEN_MISSING: 40100,
  TOKEN_EXPIRED: 40101,
  TOKEN_INVALID: 40102,
  ADMIN_KEY_INVALID: 40110,
  FORBIDDEN: 40300,
  ROUTE_NOT_FOUND: 40400,
  USER_NOT_FOUND: 40401,
  METHOD_NOT_ALLOWED: 40500,
  EVENT_ID_CONFLICT: 40900,
  ACCOUNT_ERASED: 41000,
  PAYLOAD_TOO_LARGE: 41300,
  TOO_MANY_CONNECTIONS: 42900,
  SLOW_CONSUMER: 42901,
  UNSUPPORTED_MEDIA_TYPE: 41500,
  INTERNAL: 50000,
  CONTENDED: 50301,
  SHUTTING_DOWN: 50302,
  NODE_FULL: 50303,
  NODE_BUSY: 50304,
  STORE_UNAVAILABLE: 50305,
  // The seed's codes (bilibili-private-message-api.md, send_msg).
  MSG_KEY_NOT_FOUND: 10005,
  MSG_TOO_LONG: 21007,
  SEND_TOO_FAST: 21020,
  SEND_TO_SELF: 21026,
  MSG_TYPE_UNSUPPORTED: 21035,
  IMAGE_INVALID: 21037,
  RECALL_WINDOW_PASSED: 21041,
  ALREADY_RECALLED: 21042,
  DAILY_CAP_REACHED: 21046,
  ONE_MESSAGE_BEFORE_REPLY: 21047,
  PRIVACY_FOLLOWED_ONLY: 25003,
  BLOCKED: 25005,
  // session_detail of a session never chatted in ("入口节点已存在" in the seed).
  SESSION_NOT_FOUND: 1000004,
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
  forbidden: (message: string) => new DomainError(ErrorCodes.FORBIDDEN, 403, message),
  accountErased: (uid: string) =>
    new DomainError(ErrorCodes.ACCOUNT_ERASED, 410, `the data of user ${uid} has been erased`),
  msgKeyNotFound: (msgKey: string) =>
    new DomainError(ErrorCodes.MSG_KEY_NOT_FOUND, 404, `message ${msgKey} does not exist`),
  sendTooFast: (perSecond: number) =>
    new DomainError(
      ErrorCodes.SEND_TOO_FAST,
      429,
      `sending too fast: at most ${perSecond} messages per second`,
    ),
  imageInvalid: (why: string) =>
    new DomainError(ErrorCodes.IMAGE_INVALID, 400, `the image message is not valid: ${why}`),
  recallWindowPassed: (seconds: number) =>
    new DomainError(
      ErrorCodes.RECALL_WINDOW_PASSED,
      400,
      `a message can only be recalled within ${seconds} seconds of sending`,
    ),
  alreadyRecalled: (msgKey: string) =>
    new DomainError(ErrorCodes.ALREADY_RECALLED, 409, `message ${msgKey} is already recalled`),
  dailyCapReached: (cap: number) =>
    new DomainError(
      ErrorCodes.DAILY_CAP_REACHED,
      429,
      `daily limit of ${cap} messages reached; try again in 24 hours`,
    ),
  oneMessageBeforeReply: () =>
    new DomainError(
      ErrorCodes.ONE_MESSAGE_BEFORE_REPLY,
      403,
      'at most 1 message until the receiver replies or follows you',
    ),
  privacyFollowedOnly: () =>
    new DomainError(
      ErrorCodes.PRIVACY_FOLLOWED_ONLY,
      403,
      'the receiver accepts messages only from users they follow',
    ),
  blocked: (byMe: boolean) =>
    new DomainError(
      ErrorCodes.BLOCKED,
      403,
      byMe
        ? 'you have blocked this user; unblock them to chat'
        : 'this user has blocked you; messages cannot be sent',
    ),
  sessionNotFound: (talkerId: string, sessionType: number) =>
    new DomainError(
      ErrorCodes.SESSION_NOT_FOUND,
      404,
      `no session with talker ${talkerId} (session_type ${sessionType})`,
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

/**
 * An error as transports answer it: a domain error as it is, the event store out of reach as
 * 503 / 50305 (the command may or may not have been written: retrying it is safe), anything else
 * unchanged (a 500).
 */
export function asDomainError(err: unknown): unknown {
  if (err instanceof EventStoreUnavailableError) {
    return new DomainError(
      ErrorCodes.STORE_UNAVAILABLE,
      503,
      'the event store cannot be reached; retry shortly (retrying the same request is safe)',
    );
  }
  return err;
}
