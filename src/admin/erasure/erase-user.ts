import { USER_ERASED, UserErasedData, userStream } from '../../accounts/accounts.events';
import { Errors } from '../../common/errors';
import { uuidV5 } from '../../common/ids';
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
 * The key goes first: once it is destroyed nothing of theirs opens, whatever happens next. Running
 * it again is harmless: the key is destroyed again (a no-op, or the cure after a restored backup
 * brought it back), and a `UserErased` is appended only if the stream has none.
 */

/** Event ids of erasures: one per user, so two racing erasures append one event. */
const ERASURE_NAMESPACE = '9d1f5e7a-52c3-4b8e-a0f4-6c2b8e1d3a97';
/** How many events of the user's stream are read at a time, newest first, to find an erasure. */
const SCAN_PAGE = 500;

export interface EraseUserResult {
  readonly uid: string;
  /** `already_erased`: the stream held a UserErased; the key was destroyed again all the same. */
  readonly status: 'erased' | 'already_erased';
  readonly key_destroyed: true;
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
  if (found) return result(uid, 'already_erased', found);

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
  return result(uid, appended.alreadyWritten ? 'already_erased' : 'erased', recorded);
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
): EraseUserResult {
  return {
    uid,
    status,
    key_destroyed: true,
    event: {
      stream: e.streamId,
      id: e.id,
      revision: e.revision,
      position: { commit: e.position.commit.toString(), prepare: e.position.prepare.toString() },
      erased_at: new Date(Math.floor(e.data.atUs / 1000)).toISOString(),
    },
  };
}
