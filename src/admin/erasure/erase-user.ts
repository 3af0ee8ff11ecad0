import type { Pool, PoolClient } from 'pg';
import { GROUP_REDACTED_TABLES, redactGroupTextsOf } from '../../../projections/groups.projector';
import {
  MESSAGES_REDACTED_TABLES,
  redactMessagesOf,
} from '../../../projections/messages.projector';
import { quoteIdent } from '../../../projections/projection-runner';
import { USER_ERASED, UserErasedData, userStream } from '../../accounts/accounts.events';
import { Errors } from '../../common/errors';
import { uuidV5 } from '../../common/ids';
import { inTransaction } from '../../database/with-client';
import { tablesIn } from '../replay/read-model-copies';
import type { EventMetadata, EventStore, RecordedEvent } from '../../event-store/event-store.port';

/**
 * Erasing a user (`npm run admin -- erase-user`, `POST /admin/v1/users/{uid}/erase`; DESIGN.md,
 * "Write side"): their data key is destroyed, so every envelope sealed for them (their messages'
 * content) opens to nothing from then on, in the log, in backups taken after, in exports and in
 * every rebuild, on every node at once (key-ring.ts); then a `UserErased` event on their stream
 * records it, and the projections empty what the read models hold of their content when they
 * reach it. The log itself is not changed: ids, metadata, times and the other party's messages
 * stay.
 *
 * Copies of the read models in schemas of their own (time-travel snapshots, rebuild shadows,
 * verify copies, tables a rebuild's swap retired: src/admin/replay/read-model-copies.ts) have no
 * runner that will reach the `UserErased`, or not before they are read, so the same redaction is
 * applied to each of them here, after the event is recorded. Redacting a shadow that its own
 * runner will redact again is harmless: the redaction is idempotent.
 *
 * The key goes first: once it is destroyed nothing of theirs opens, whatever happens next. Running
 * it again is harmless: the key is destroyed again (a no-op, or the cure after a restored backup
 * brought it back), and a `UserErased` is appended only if the stream has none.
 */

/** Event ids of erasures: one per user, so two racing erasures append one event. */
const ERASURE_NAMESPACE = '9d1f5e7a-52c3-4b8e-a0f4-6c2b8e1d3a97';
/** How many events of the user's stream are read at a time, newest first, to find an erasure. */
const SCAN_PAGE = 500;

/**
 * Schemas holding copies of the read models: `asof_` (time travel), `rebuild_` (a rebuild's
 * shadow, maybe interrupted), `verify_`, and `retired_rebuild_` (live tables a swap moved out and
 * could not drop).
 */
export const COPY_SCHEMA_PREFIXES: readonly string[] = [
  'asof_',
  'rebuild_',
  'verify_',
  'retired_rebuild_',
];

/** The projectors' own redactions, each applied to a copy that holds all of its tables. */
const REDACTIONS: readonly {
  readonly tables: readonly string[];
  readonly redact: (uids: readonly string[], tx: Pick<PoolClient, 'query'>) => Promise<void>;
}[] = [
  { tables: MESSAGES_REDACTED_TABLES, redact: redactMessagesOf },
  { tables: GROUP_REDACTED_TABLES, redact: redactGroupTextsOf },
];

export interface EraseUserResult {
  readonly uid: string;
  /** `already_erased`: the stream held a UserErased; the key was destroyed again all the same. */
  readonly status: 'erased' | 'already_erased';
  readonly key_destroyed: true;
  /** How many copies of the read models (schemas: {@link COPY_SCHEMA_PREFIXES}) were redacted. */
  readonly copies_redacted: number;
  /** The erasure event, appended now or found. */
  readonly event: {
    readonly stream: string;
    readonly id: string;
    readonly revision: number;
    /** Its position (decimal strings): the read models are redacted once they pass it. */
    readonly position: { readonly commit: string; readonly prepare: string };
    readonly erased_at: string;
  };
}

export interface EraseUserDeps {
  readonly store: EventStore;
  /** The database of the read models (and of their copies). */
  readonly pool: Pool;
  /** Destroys the user's data key and tells every node (KeyRing.destroyKey, destroyDataKey). */
  readonly destroyKey: (uid: string) => Promise<void>;
  /** Microseconds since the epoch. */
  readonly nowUs: () => number;
}

/**
 * @throws DomainError 404 (40401) when the user does not exist (nothing is done).
 */
export async function eraseUser(
  deps: EraseUserDeps,
  uid: string,
  metadata: EventMetadata,
): Promise<EraseUserResult> {
  const stream = userStream(uid);
  const [first] = await deps.store.readStream(stream, { limit: 1 });
  if (!first) throw Errors.userNotFound(uid);

  await deps.destroyKey(uid);

  const found = await findErasure(deps.store, stream);
  if (found) {
    // Again: a copy made since the first erasure may hold what she wrote in plain text.
    return result(uid, 'already_erased', found, await redactCopies(deps.pool, uid));
  }

  const atUs = deps.nowUs();
  const id = uuidV5(uid, ERASURE_NAMESPACE);
  const data: UserErasedData = { uid, atUs };
  const appended = await deps.store.append(
    stream,
    [{ id, type: USER_ERASED, data, metadata }],
    'stream_exists',
  );
  // Read back for its position and time: a racing erasure may have appended it first.
  const recorded = await findErasure(deps.store, stream);
  if (!recorded) throw new Error(`the UserErased event of ${uid} was appended but is not found`);
  const copies = await redactCopies(deps.pool, uid);
  return result(uid, appended.alreadyWritten ? 'already_erased' : 'erased', recorded, copies);
}

/**
 * Applies the projectors' redaction of `uid` to every copy of the read models that holds their
 * tables, one transaction per copy ({@link redactCopy}). Returns how many copies were redacted.
 */
export async function redactCopies(pool: Pool, uid: string): Promise<number> {
  const tables = [...new Set(REDACTIONS.flatMap((r) => r.tables))];
  const { rows } = await pool.query<{ schema: string }>(
    `SELECT DISTINCT n.nspname AS schema
       FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
      WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS p WHERE starts_with(n.nspname, p))
        AND c.relkind IN ('r', 'p') AND c.relname = ANY($2::text[])
      ORDER BY 1`,
    [COPY_SCHEMA_PREFIXES, tables],
  );
  let redacted = 0;
  const failed: string[] = [];
  for (const { schema } of rows) {
    try {
      if (await redactCopy(pool, schema, [uid])) redacted++;
    } catch (err) {
      // One copy in the way (older table definitions, say) does not keep the others readable.
      failed.push(`${schema} (${(err as Error).message})`);
    }
  }
  if (failed.length > 0) {
    throw new Error(
      `${uid} is erased, but these copies of the read models could not be redacted and may ` +
        `still show what they wrote: ${failed.join('; ')}. Drop them, or run the erasure again`,
    );
  }
  return redacted;
}

/**
 * Applies the projectors' redaction of `uids` to the copy of the read models in `schema`, in one
 * transaction with the copy's schema first on the search path (the redaction's SQL names its
 * tables unqualified). A redaction applies only where the copy has all of its tables, so it never
 * reaches through to `public` (a rebuild's shadow of some projections holds only theirs).
 * Returns whether any applied.
 */
export async function redactCopy(
  pool: Pool,
  schema: string,
  uids: readonly string[],
): Promise<boolean> {
  const held = new Set(await tablesIn(pool, schema));
  const applicable = REDACTIONS.filter((r) => r.tables.every((t) => held.has(t)));
  if (applicable.length === 0) return false;
  await inTransaction(pool, async (tx) => {
    await tx.query(`SET LOCAL search_path = ${quoteIdent(schema)}, public`);
    for (const r of applicable) await r.redact(uids, tx);
  });
  return true;
}

/** The newest UserErased of a user's stream, reading it backwards, or null. */
export async function findErasure(
  store: EventStore,
  stream: string,
): Promise<RecordedEvent<UserErasedData> | null> {
  let from: number | undefined;
  for (;;) {
    const page = await store.readStream(stream, {
      direction: 'backwards',
      fromRevision: from,
      limit: SCAN_PAGE,
    });
    const erased = page.find((e) => e.type === USER_ERASED);
    if (erased) return erased as RecordedEvent<UserErasedData>;
    const oldest = page[page.length - 1];
    if (page.length < SCAN_PAGE || !oldest || oldest.revision === 0) return null;
    from = oldest.revision - 1;
  }
}

function result(
  uid: string,
  status: EraseUserResult['status'],
  e: RecordedEvent<UserErasedData>,
  copiesRedacted: number,
): EraseUserResult {
  return {
    uid,
    status,
    key_destroyed: true,
    copies_redacted: copiesRedacted,
    event: {
      stream: e.streamId,
      id: e.id,
      revision: e.revision,
      position: { commit: e.position.commit.toString(), prepare: e.position.prepare.toString() },
      erased_at: new Date(Math.floor(e.data.atUs / 1000)).toISOString(),
    },
  };
}
