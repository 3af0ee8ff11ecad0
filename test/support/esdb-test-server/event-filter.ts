import { ReadReq } from '@eventstore/db-client/generated/streams_pb';
import type { EventRecord } from './event-log';

/** Events a read or subscription pages through at a time (`Enumerators.ReadBatchSize`). */
export const READ_BATCH_SIZE = 32;

/**
 * A server-side $all filter (`ReadReq.Options.FilterOptions`), as `Streams.Read`'s
 * ConvertToEventFilter builds it: on the stream name or the event type, by regular expression
 * if one is given, else by prefixes.
 */
export interface EventFilter {
  readonly allows: (record: EventRecord) => boolean;
  /** Events considered per page read: the `max` window, else the read batch size. */
  readonly maxSearchWindow: number;
  /** Considered events between checkpoints: window × `checkpointIntervalMultiplier`. */
  readonly checkpointInterval: number;
}

/** Thrown for filter options the server rejects; the transport answers INVALID_ARGUMENT. */
export class InvalidFilterError extends Error {}

export function filterFromOptions(options: ReadReq.Options.FilterOptions): EventFilter {
  const onStream = options.hasStreamIdentifier();
  const expression = onStream ? options.getStreamIdentifier() : options.getEventType();
  if (!expression) throw new InvalidFilterError('the filter names neither stream nor event type');
  const field = (record: EventRecord) => (onStream ? record.streamId : record.type);
  const regex = expression.getRegex();
  let matches: (value: string) => boolean;
  if (regex !== '') {
    let compiled: RegExp;
    try {
      compiled = new RegExp(regex);
    } catch {
      throw new InvalidFilterError(`'${regex}' is not a valid regular expression`);
    }
    matches = (value) => compiled.test(value);
  } else {
    const prefixes = expression.getPrefixList();
    matches = (value) => prefixes.some((prefix) => value.startsWith(prefix));
  }
  const maxSearchWindow = options.hasMax() ? options.getMax() : READ_BATCH_SIZE;
  const multiplier = options.getCheckpointintervalmultiplier();
  if (maxSearchWindow <= 0 || multiplier <= 0) {
    throw new InvalidFilterError('max search window and checkpoint interval must be positive');
  }
  return {
    allows: (record) => matches(field(record)),
    maxSearchWindow,
    checkpointInterval: maxSearchWindow * multiplier,
  };
}
