import { EventStoreDbEventStore, isUnreachable } from './eventstoredb-event-store';

export interface ConnectLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ConnectOptions {
  /** Aborting gives up waiting: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly logger?: ConnectLogger;
  /** First pause after a failed try; doubles up to `maxDelayMs`. */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** EventStoreDB refused us for a reason that waiting will not cure (credentials, say). */
export class EventStoreDbRefusedError extends Error {
  override readonly name = 'EventStoreDbRefusedError';
}

/** `esdb://user:password@host:2113,...?tls=false` without the password, for the log. */
export function redactConnectionString(connectionString: string): string {
  return connectionString.replace(/^(esdb(?:\+discover)?:\/\/[^:@/]+):[^@/]*@/, '$1:***@');
}

/**
 * The EventStoreDB adapter, once the server answers a read of `$all`. While it is unreachable
 * each failure is logged with the next pause (backoff from 0.5 s up to 15 s) and the attempt is
 * repeated, until it answers or the signal aborts.
 * @throws EventStoreDbRefusedError when the server answers with an error other than being
 *   unreachable.
 */
export async function connectEventStoreDb(
  connectionString: string,
  options: ConnectOptions = {},
): Promise<EventStoreDbEventStore> {
  const { signal, logger } = options;
  const minDelayMs = options.minDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 15_000;
  const target = redactConnectionString(connectionString);
  const store = EventStoreDbEventStore.fromConnectionString(connectionString, {
    logger: logger && { warn: (obj, msg) => logger.warn(obj, msg) },
  });
  let delay = minDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      signal?.throwIfAborted();
      // A probe may hang up to the client's deadline (a host that drops packets): a signal
      // does not wait for it.
      await untilAborted(store.ping(), signal);
      logger?.info({ eventStore: target, attempt }, 'EventStoreDB answered');
      return store;
    } catch (err) {
      if (signal?.aborted || !isUnreachable(err)) {
        await store.close().catch(() => undefined);
        if (signal?.aborted) throw signal.reason;
        throw new EventStoreDbRefusedError(
          `EventStoreDB at ${target} refused the connection: ${(err as Error).message}`,
        );
      }
      logger?.warn(
        { eventStore: target, attempt, retryInMs: delay, reason: (err as Error).message },
        `EventStoreDB at ${target} is unreachable; retrying in ${(delay / 1000).toFixed(1)} s ` +
          '(check EVENTSTORE_CONNECTION_STRING and that the server is up)',
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done);
      });
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }
}

/** The promise's outcome, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => undefined); // settled later, after an abort: nobody waits for it any more
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
