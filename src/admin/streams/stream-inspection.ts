import type { Pool } from 'pg';
import type { KeyRing } from '../../crypto/key-ring';
import type { EventMetadata, EventStore } from '../../event-store/event-store.port';
import { openSealedFields, SealedField } from './sealed-fields';
import { StreamErrors } from './streams.errors';

/**
 * Stream inspection (`npm run admin -- stream`, `GET /admin/v1/streams/{stream_id}/events`): a
 * page of one stream's events as stored, with every sealed field opened where its owner's key
 * exists. Works on the event store port, so on either adapter.
 */

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export interface InspectStreamOptions {
  /** First revision (forwards) or last revision (backwards) of the page; default the start / end. */
  readonly fromRevision?: number;
  readonly limit?: number;
  readonly direction?: 'forwards' | 'backwards';
}

/** One event as inspection shows it (snake_case, as the REST API answers). */
export interface InspectedEvent {
  readonly revision: number;
  /** The global position (commit, prepare), as decimal strings. */
  readonly position: { readonly commit: string; readonly prepare: string };
  readonly id: string;
  readonly type: string;
  /** The store's commit time (a copied or imported event keeps its original one on EventStoreDB). */
  readonly created_at: string;
  readonly metadata: EventMetadata;
  /** As stored, with each sealed field replaced by its plaintext, or null (see `sealed`). */
  readonly data: unknown;
  /** The sealed fields of `data`, and what became of each; empty when there are none. */
  readonly sealed: SealedField[];
}

export interface StreamPage {
  readonly stream_id: string;
  readonly direction: 'forwards' | 'backwards';
  /** The revision of the stream's last event. */
  readonly last_revision: number;
  readonly events: InspectedEvent[];
  /** `from_revision` of the next page in the same direction; null at the end. */
  readonly next_from_revision: number | null;
  /** False when no master key was available: sealed fields are listed, not opened. */
  readonly opened: boolean;
}

/**
 * @throws DomainError 404 (40402) when the stream has no events.
 * @throws KeyUnwrapError when MASTER_KEY does not open a stored key.
 */
export async function inspectStream(
  store: EventStore,
  keyRing: KeyRing | null,
  streamId: string,
  options: InspectStreamOptions = {},
): Promise<StreamPage> {
  const direction = options.direction ?? 'forwards';
  const limit = options.limit ?? DEFAULT_PAGE;
  // One more than the page: whether there is a next one.
  const [read, [last]] = await Promise.all([
    store.readStream(streamId, { fromRevision: options.fromRevision, direction, limit: limit + 1 }),
    store.readStream(streamId, { direction: 'backwards', limit: 1 }),
  ]);
  if (!last) throw StreamErrors.notFound(streamId);
  const page = read.slice(0, limit);
  const opened = await openSealedFields(
    page.map((e) => e.data),
    keyRing,
  );
  const events = page.map((e, i): InspectedEvent => ({
    revision: e.revision,
    position: { commit: e.position.commit.toString(), prepare: e.position.prepare.toString() },
    id: e.id,
    type: e.type,
    created_at: e.createdAt.toISOString(),
    metadata: e.metadata,
    data: opened[i].data,
    sealed: opened[i].sealed,
  }));
  const end = page[page.length - 1];
  return {
    stream_id: streamId,
    direction,
    last_revision: last.revision,
    events,
    next_from_revision:
      read.length > limit && end ? end.revision + (direction === 'forwards' ? 1 : -1) : null,
    opened: keyRing !== null,
  };
}

export interface StreamListing {
  readonly streams: { readonly stream_id: string; readonly last_revision: number }[];
  /** `after` of the next page; null at the end. */
  readonly next_after: string | null;
}

/**
 * The PostgreSQL log's streams whose id starts with `prefix` (`conversation-`, `user-al`), in
 * byte order of their ids, after `after`. One pass over `es_streams` (a row per stream, not per
 * event): byte order and prefixes do not follow the database's collation, which its index has.
 */
export async function listStreams(
  pool: Pool,
  options: { prefix?: string; after?: string; limit?: number },
): Promise<StreamListing> {
  const limit = options.limit ?? DEFAULT_PAGE;
  const prefix = options.prefix ?? '';
  const { rows } = await pool.query<{ stream_id: string; revision: string }>(
    `SELECT stream_id, revision FROM es_streams
      WHERE starts_with(stream_id, $1) AND ($2::text IS NULL OR stream_id COLLATE "C" > $2)
      ORDER BY stream_id COLLATE "C" LIMIT $3`,
    [prefix, options.after ?? null, limit + 1],
  );
  const page = rows.slice(0, limit);
  return {
    streams: page.map((r) => ({ stream_id: r.stream_id, last_revision: Number(r.revision) })),
    next_after: rows.length > limit ? page[page.length - 1].stream_id : null,
  };
}
