import type { EventStore, RecordedEvent } from '../../event-store/event-store.port';
import { comparePositions, START } from '../../event-store/event-store.port';
import { parseInstant } from '../audit/audit-query';
import { USER_ERASED } from '../../accounts/accounts.events';
import type { StoredDataKey } from '../../crypto/key-ring';
import { findEnvelopes } from '../streams/sealed-fields';
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  eventLine,
  ExportFilterText,
  headerLine,
  keyLine,
  summaryLine,
} from './ndjson-format';

/**
 * Exporting the log as NDJSON (`npm run admin -- export`, `GET /admin/v1/export`): the log is
 * read in pages of `readAll`, so an export of any size holds one page in memory; a line goes out
 * per matching event, in log order. The export ends at the head the log had when it started, so
 * a log being written meanwhile gives a clean cut (the events written after are left out).
 */

export interface ExportFilter {
  /** Whole streams, by id; with categories, an event matching either is exported. */
  readonly streams?: readonly string[];
  /** Streams whose id's part before the first dash is one of these (`conversation`). */
  readonly categories?: readonly string[];
  /** Recorded at or after (inclusive), by the store's commit time. */
  readonly since?: Date;
  /** Recorded before (exclusive). */
  readonly until?: Date;
}

export interface ExportProgress {
  /** Events read from the log so far, and exported of them. */
  readonly read: number;
  readonly exported: number;
}

export interface ExportOptions {
  /** Events read per page (default 1000). */
  readonly batchSize?: number;
  /** Stops between pages: the generator then throws the signal's reason. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ExportProgress) => void;
  /** The export's time, for the header (default now). */
  readonly now?: Date;
  /**
   * Carry the data keys the exported events need (`--with-keys`, {@link addKeyOwners}): the `user_keys`
   * rows of the envelopes' owners, read with this once the events are out, one line each.
   */
  readonly keys?: (uids: readonly string[]) => Promise<readonly StoredDataKey[]>;
}

/** What an export did, once its last line is out. */
export interface ExportResult {
  /** Events read from the log, and exported of them. */
  readonly read: number;
  readonly exported: number;
  /** Key lines written, and owners of exported content with no key here (`keys` only). */
  readonly keys: number;
  readonly keyless: number;
}

/** A category as a filter names it (the categories of this product's streams). */
export const CATEGORY_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

/**
 * A filter's time: an ISO-8601 date (midnight UTC) or date and time with a zone, as the audit
 * log takes it. The log's times have milliseconds: finer digits are dropped.
 * @throws DomainError 40000 naming `name`.
 */
export function exportInstant(value: string, name: string): Date {
  return new Date(Number(parseInstant(value, name).us / 1000n));
}

/** The category of a stream: its id up to the first dash (the whole id without one). */
export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
}

/** Whether an event passes the filter. */
export function matcher(filter: ExportFilter): (e: RecordedEvent) => boolean {
  const streams = new Set(filter.streams ?? []);
  const categories = new Set(filter.categories ?? []);
  const byStream = streams.size > 0 || categories.size > 0;
  const since = filter.since?.getTime();
  const until = filter.until?.getTime();
  return (e) => {
    if (byStream && !streams.has(e.streamId) && !categories.has(categoryOf(e.streamId))) {
      return false;
    }
    const at = e.createdAt.getTime();
    return (since === undefined || at >= since) && (until === undefined || at < until);
  };
}

/** The filter as the header records it. */
export function filterText(filter: ExportFilter): ExportFilterText {
  return {
    ...(filter.streams?.length ? { streams: [...filter.streams] } : {}),
    ...(filter.categories?.length ? { categories: [...filter.categories] } : {}),
    ...(filter.since ? { since: filter.since.toISOString() } : {}),
    ...(filter.until ? { until: filter.until.toISOString() } : {}),
  };
}

/** What {@link addKeyOwners} reads of an event (a recorded one, or an export's line). */
export interface KeyedEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: { readonly actor?: { readonly id?: unknown } };
}

/**
 * Adds to `into` the users whose data keys `event` needs:
 * - the owner of each sealed envelope in its data that its writer sealed: the actor, or the
 *   message's sender (an administrator sends for a system account). An envelope-shaped text
 *   anywhere else (a group name, say) names no one: it cannot pull another user's key into an
 *   export;
 * - the user a `UserErased` erases: their key travels destroyed, so they stay erased.
 * @returns the user the event erases, or null.
 */
export function addKeyOwners(event: KeyedEvent, into: Set<string>): string | null {
  const data = event.data as Record<string, unknown> | null;
  if (event.type === USER_ERASED && typeof data?.uid === 'string') {
    into.add(data.uid);
    return data.uid;
  }
  const writers = new Set<unknown>([event.metadata.actor?.id, data?.senderUid]);
  for (const { owner } of findEnvelopes(data)) if (writers.has(owner)) into.add(owner);
  return null;
}

/**
 * The export's lines: the header, one per matching event, the data keys (with `keys`), the
 * summary. Pull them one at a time
 * (a writer waits for its output to drain before pulling the next), so the export streams.
 * Throws (after the lines so far) when the store fails or the signal aborts: no summary then.
 */
export async function* exportLines(
  store: EventStore,
  filter: ExportFilter,
  options: ExportOptions = {},
): AsyncGenerator<string, ExportResult> {
  const batchSize = options.batchSize ?? 1000;
  const matches = matcher(filter);
  const readKeys = options.keys;
  const owners = readKeys ? new Set<string>() : null;
  yield headerLine({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exported_at: (options.now ?? new Date()).toISOString(),
    store: store.adapter,
    filter: filterText(filter),
    keys: owners !== null,
  });
  const head = await store.headPosition();
  let after = START;
  let read = 0;
  let exported = 0;
  while (head !== null) {
    options.signal?.throwIfAborted();
    const page = await store.readAll({ after, limit: batchSize });
    if (page.length === 0) break;
    let ended = false;
    for (const event of page) {
      if (comparePositions(event.position, head) > 0) {
        ended = true;
        break;
      }
      read++;
      if (!matches(event)) continue;
      exported++;
      if (owners) addKeyOwners(event, owners);
      yield eventLine(event);
    }
    after = page[page.length - 1].position;
    options.onProgress?.({ read, exported });
    if (ended || comparePositions(after, head) >= 0) break;
  }
  let keys = 0;
  if (owners && readKeys) {
    for (const key of await readKeys([...owners].sort())) {
      keys++;
      yield keyLine(key);
    }
  }
  yield summaryLine(exported);
  // Owners without a key here: their content opens nowhere (keyless, for a warning).
  return { read, exported, keys, keyless: owners ? owners.size - keys : 0 };
}
