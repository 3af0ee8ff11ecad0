import { asDomainError, DomainError, ErrorCodes } from '../common/errors';

/** What an ack callback gets: `{ code: 0, data }` or `{ code, message }`, codes as in REST. */
export type Reply = { code: 0; data: unknown } | { code: number; message: string };

export const RealtimeErrors = {
  unknownEvent: (event: string) =>
    new DomainError(
      ErrorCodes.ROUTE_NOT_FOUND,
      404,
      `unknown event ${JSON.stringify(event.slice(0, 64))}: the events are send, ack and sync`,
    ),
  tooManyConnections: (max: number) =>
    new DomainError(
      ErrorCodes.TOO_MANY_CONNECTIONS,
      429,
      `this user already holds ${max} connections of this kind to this node; close one first`,
    ),
  slowConsumer: () =>
    new DomainError(
      ErrorCodes.SLOW_CONSUMER,
      429,
      'disconnected: too many pushes waiting to be sent; reconnect and catch up with sync',
    ),
  shuttingDown: () =>
    new DomainError(
      ErrorCodes.SHUTTING_DOWN,
      503,
      'this node is shutting down: reconnect (to another node) and retry',
    ),
  nodeFull: () =>
    new DomainError(
      ErrorCodes.NODE_FULL,
      503,
      'this node holds as many connections as it may; retry later or elsewhere',
    ),
  busy: () =>
    new DomainError(
      ErrorCodes.NODE_BUSY,
      503,
      'this node has too many sends waiting to be delivered; retry shortly',
    ),
  badCursor: () =>
    new DomainError(ErrorCodes.VALIDATION_FAILED, 400, 'cursor is not a cursor this server gave'),
};

/** The ack reply of an error: a domain error as it is, anything else as 50000. */
export function replyTo(thrown: unknown): Reply {
  const err = asDomainError(thrown);
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: ErrorCodes.INTERNAL, message: 'internal error' };
}

/** The handshake refusal a client sees as `connect_error`: `message`, and `data.code`. */
export function connectError(err: unknown): Error & { data: { code: number } } {
  const reply = replyTo(err) as { code: number; message: string };
  return Object.assign(new Error(reply.message), { data: { code: reply.code } });
}
