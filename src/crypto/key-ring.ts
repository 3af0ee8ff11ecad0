import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { Lru } from '../common/lru';
import { inTransaction } from '../database/with-client';

/**
 * Per-user envelope encryption of personal content in events (DESIGN.md, "Write side").
 *
 * Each user has a random 32-byte data key, kept in PostgreSQL's `user_keys` table outside the log
 * and wrapped under the master key from configuration. Erasing a user destroys their key: every
 * envelope sealed for them, in the log, in backups taken after the erasure and in every rebuild,
 * then decrypts to `null`, while the log itself stays append-only.
 *
 * Envelope, a compact self-describing string (every part base64url without padding):
 *
 *     e1.<uid>.<iv: 12 bytes>.<ciphertext || tag: 16 bytes>
 *
 * AES-256-GCM under the owner's data key, with the uid's UTF-8 bytes as additional authenticated
 * data, so an envelope moved to another owner fails to open. `e1` names this format; another one
 * gets another prefix.
 *
 * Wrapped data key, `user_keys.wrapped_key`: iv (12 bytes) || ciphertext (32 bytes) || tag (16
 * bytes), AES-256-GCM under the master key with the uid as additional authenticated data, so a
 * row copied to another uid does not unwrap. A destroyed key keeps its row with `wrapped_key` NULL
 * and `destroyed_at` set; it is never created again, so an erased user cannot write.
 *
 * Unwrapped keys, and the fact that a key was destroyed, are cached in memory; a cache hit costs
 * no query. A destroy is announced on the database (`NOTIFY key_destroyed, '<uid>'`, in the same
 * statement that destroys the key, so it is heard exactly when the destroy commits). A key ring
 * that {@link KeyRing.listen}s (every process of the application does, from its start) drops
 * that uid's key from its cache when it hears it: the other nodes, the projector and the realtime
 * followers stop opening the user's content at once, not when they restart. While its listening
 * connection is down a key ring caches no key (each use asks the database), and when it is back
 * it forgets every key it held: a destroy announced meanwhile was not heard.
 */

const FORMAT = 'e1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A wrapped data key, `user_keys.wrapped_key`: iv, the key sealed, the tag. */
export const WRAPPED_KEY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** The base64url alphabet, each character at its value. */
const BASE64URL_VALUE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The channel a destroy is announced on; the payload is the uid. */
export const KEY_DESTROYED_CHANNEL = 'key_destroyed';
/** Pauses between attempts to (re)open the listening connection. */
const LISTEN_RETRY_MIN_MS = 250;
const LISTEN_RETRY_MAX_MS = 5_000;

/**
 * Destroys `uid`'s data key for good (a row is kept, marked destroyed, even when the user had
 * none) and announces it to every key ring listening on the database, in one statement: the
 * notification is delivered when, and only if, the destroy commits. Idempotent; the first
 * destruction time is kept. Usable without a key ring (the admin CLI needs no master key for it).
 */
export async function destroyDataKey(db: Pick<Pool, 'query'>, uid: string): Promise<void> {
  await db.query(
    `WITH destroyed AS (
       INSERT INTO user_keys (uid, wrapped_key, destroyed_at) VALUES ($1, NULL, now())
       ON CONFLICT (uid) DO UPDATE
         SET wrapped_key = NULL, destroyed_at = COALESCE(user_keys.destroyed_at, now())
       RETURNING uid)
     SELECT pg_notify($2, uid) FROM destroyed`,
    [uid, KEY_DESTROYED_CHANNEL],
  );
}

/**
 * The users whose data key is destroyed: every user erased, including one whose erasure stopped
 * before its `UserErased` was recorded. A time-travel snapshot redacts what they wrote
 * (src/admin/replay/time-travel.ts): built of a time before an erasure, it stops before the
 * `UserErased`, while the log still holds their plain texts.
 */
export async function destroyedKeyUids(db: Pick<Pool, 'query'>): Promise<string[]> {
  const { rows } = await db.query<{ uid: string }>(
    `SELECT uid FROM user_keys WHERE wrapped_key IS NULL ORDER BY uid`,
  );
  return rows.map((r) => r.uid);
}

/** A user's data key as `user_keys` holds it: wrapped under the master key, or destroyed. */
export interface StoredDataKey {
  readonly uid: string;
  /** Null: destroyed (then `destroyedAt` is set). */
  readonly wrappedKey: Buffer | null;
  readonly createdAt: Date;
  readonly destroyedAt: Date | null;
}

/** The `user_keys` rows of `uids` (those that have one), by uid. */
export async function readDataKeys(
  db: Pick<Pool, 'query'>,
  uids: readonly string[],
): Promise<StoredDataKey[]> {
  const { rows } = await db.query<{
    uid: string;
    wrapped_key: Buffer | null;
    created_at: Date;
    destroyed_at: Date | null;
  }>(
    `SELECT uid, wrapped_key, created_at, destroyed_at FROM user_keys
      WHERE uid = ANY($1::text[]) ORDER BY uid`,
    [uids],
  );
  return rows.map((r) => ({
    uid: r.uid,
    wrappedKey: r.wrapped_key,
    createdAt: r.created_at,
    destroyedAt: r.destroyed_at,
  }));
}

/**
 * Writes data keys carried from another installation (an export's key lines) into `user_keys`,
 * as they were (wrapped under the master key, or destroyed), in one transaction: all of them, or,
 * when a user already has another key (or a destroyed one), none. A user who has that same key
 * keeps their row.
 * @returns the rows added, or the users whose row is another key (nothing written then).
 */
export async function restoreDataKeys(
  pool: Pool,
  keys: readonly StoredDataKey[],
): Promise<{ readonly restored: number; readonly clashing: readonly string[] }> {
  if (keys.length === 0) return { restored: 0, clashing: [] };
  return inTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `INSERT INTO user_keys (uid, wrapped_key, created_at, destroyed_at)
       SELECT * FROM unnest($1::text[], $2::bytea[], $3::timestamptz[], $4::timestamptz[])
       ON CONFLICT (uid) DO NOTHING`,
      [
        keys.map((k) => k.uid),
        keys.map((k) => k.wrappedKey),
        keys.map((k) => k.createdAt),
        keys.map((k) => k.destroyedAt),
      ],
    );
    const wanted = new Map(keys.map((k) => [k.uid, k.wrappedKey]));
    const clashing = (
      await readDataKeys(
        client,
        keys.map((k) => k.uid),
      )
    )
      .filter((row) => {
        const key = wanted.get(row.uid)!;
        return row.wrappedKey === null || key === null
          ? row.wrappedKey !== key
          : !row.wrappedKey.equals(key);
      })
      .map((row) => row.uid);
    // Rolled back: a clash leaves user_keys as it was.
    if (clashing.length > 0) throw new KeysClashError(clashing);
    return { restored: rowCount ?? 0, clashing };
  }).catch((err: unknown) => {
    if (err instanceof KeysClashError) return { restored: 0, clashing: err.uids };
    throw err;
  });
}

/** Inside restoreDataKeys: rolls its transaction back. */
class KeysClashError extends Error {
  constructor(readonly uids: readonly string[]) {
    super(`other data keys for ${uids.join(', ')}`);
  }
}

/** Whether `wrapped` is `uid`'s data key wrapped under `masterKey` (it opens, for that uid). */
export function wrappedUnder(masterKey: Buffer, uid: string, wrapped: Buffer): boolean {
  return unwrapWith(masterKey, uid, wrapped) !== null;
}

/** Encrypting for a user whose data key was destroyed: an erased user cannot write. */
export class KeyDestroyedError extends Error {
  override readonly name = 'KeyDestroyedError';
  constructor(readonly uid: string) {
    super(
      `the data key of user ${uid} was destroyed (the user was erased): nothing can be sealed for them`,
    );
  }
}

/** An envelope that is not in the `e1` format, or that fails authentication (tampered). */
export class InvalidEnvelopeError extends Error {
  override readonly name = 'InvalidEnvelopeError';
}

/** A stored data key that the master key does not open: the wrong MASTER_KEY, or a corrupt row. */
export class KeyUnwrapError extends Error {
  override readonly name = 'KeyUnwrapError';
  constructor(readonly uid: string) {
    super(
      `cannot unwrap the data key of user ${uid}: MASTER_KEY is not the key it was wrapped with, or its user_keys row is corrupt`,
    );
  }
}

export interface KeyRingOptions {
  /** Unwrapped keys (and destroyed answers) held in memory; 100,000 by default. */
  readonly cacheSize?: number;
}

/** A data key, or null: destroyed. */
type Slot = Buffer | null;
/** What the database holds for each uid asked; absent: no row, the key never existed. */
type Found = Map<string, Slot>;

interface Envelope {
  readonly uid: string;
  readonly aad: Buffer;
  readonly iv: Buffer;
  readonly sealed: Buffer;
}

export class KeyRing implements OnApplicationBootstrap, OnModuleDestroy {
  private cache: Lru<string, Slot>;
  private readonly cacheSize: number;
  /** Queries in flight, by each uid they load, so concurrent callers share one. */
  private readonly loading = new Map<string, Promise<Found>>();
  private readonly creating = new Map<string, Promise<Buffer>>();
  /**
   * Bumped before and after every destroy: a load that overlapped a destroy does not cache the
   * key it read, which may be the one just destroyed.
   */
  private destroys = 0;
  /**
   * `off`: not listening (a single process, or a tool): keys are cached as they load. `on`: the
   * listening connection is up. `down`: listening was asked for but the connection is not up:
   * live keys are not cached, since a destroy elsewhere would go unheard.
   */
  private watch: 'off' | 'on' | 'down' = 'off';
  private listener: Client | null = null;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = LISTEN_RETRY_MIN_MS;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly masterKey: Buffer,
    options: KeyRingOptions = {},
  ) {
    if (masterKey.length !== KEY_BYTES) {
      throw new RangeError(`the master key must be ${KEY_BYTES} bytes, not ${masterKey.length}`);
    }
    this.cacheSize = options.cacheSize ?? 100_000;
    this.cache = new Lru(this.cacheSize);
  }

  /**
   * Starts following destroys made anywhere on the database (`LISTEN key_destroyed`) on a
   * connection of its own; resolves once the first attempt to open it has ended (it is retried in
   * the background until {@link close}). Called by Nest when the application starts.
   */
  async listen(): Promise<void> {
    if (this.closed || this.watch !== 'off') return;
    this.watch = 'down';
    this.connecting = this.connectListener();
    await this.connecting;
  }

  /** Whether the listening connection is up (a test waits for it). */
  get listening(): boolean {
    return this.watch === 'on';
  }

  /** Stops listening. Called by Nest when the application stops. */
  async close(): Promise<void> {
    this.closed = true;
    // Still usable, but no longer hearing destroys: cache no live key from now on.
    if (this.watch === 'on') this.watch = 'down';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.connecting?.catch(() => undefined);
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => undefined);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.listen();
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /** True when `s` has the shape of an envelope (not whether it opens). */
  static isEnvelope(s: unknown): boolean {
    return typeof s === 'string' && parse(s) !== null;
  }

  /** The uid an envelope is sealed for, or null when `s` is not an envelope. */
  static ownerOf(s: unknown): string | null {
    return typeof s === 'string' ? (parse(s)?.uid ?? null) : null;
  }

  /**
   * Seals `plaintext` for `uid`, creating the user's data key on first use.
   * @throws KeyDestroyedError when the user's key was destroyed.
   */
  async encryptFor(uid: string, plaintext: string): Promise<string> {
    if (uid.length === 0) throw new RangeError('a uid to encrypt for must not be empty');
    const key = await this.keyForWriting(uid);
    const aad = Buffer.from(uid, 'utf8');
    const iv = randomBytes(IV_BYTES);
    const sealed = seal(key, iv, Buffer.from(plaintext, 'utf8'), aad);
    return [FORMAT, aad, iv, sealed].map((p) => p.toString('base64url')).join('.');
  }

  /**
   * Opens an envelope: null when its owner's key was destroyed (erased) or never existed. (An
   * envelope relabelled to a uid that has no key cannot be told from either, so it is null too.)
   * @throws InvalidEnvelopeError for a malformed or tampered envelope.
   * @throws KeyUnwrapError when the master key does not open the owner's stored key.
   */
  async decrypt(envelope: string): Promise<string | null> {
    return (await this.decryptMany([envelope]))[0];
  }

  /** {@link decrypt} for a batch: the keys not cached are loaded in one query. */
  async decryptMany(envelopes: readonly string[]): Promise<(string | null)[]> {
    const parsed = envelopes.map((e, i) => {
      const envelope = typeof e === 'string' ? parse(e) : null;
      if (!envelope) throw new InvalidEnvelopeError(`envelope ${i} is not in the ${FORMAT} format`);
      return envelope;
    });
    const keys = await this.keysOf(parsed.map((e) => e.uid));
    return parsed.map((e) => openWith(keys, e));
  }

  /**
   * Opens the envelopes among `values` (message contents: sealed ones, and text written before
   * encryption) in one go, each value parsed once ({@link isEnvelope} then {@link decryptMany}
   * would parse it twice): for each, its text; null for an envelope whose owner's key is destroyed
   * or missing; undefined for a value that is not an envelope (to be taken as it is).
   * @throws InvalidEnvelopeError for a tampered envelope, as {@link decryptMany}.
   */
  async openWhereSealed(values: readonly unknown[]): Promise<(string | null | undefined)[]> {
    const parsed = values.map((v) => (typeof v === 'string' ? parse(v) : null));
    const keys = await this.keysOf(parsed.flatMap((e) => (e ? [e.uid] : [])));
    return parsed.map((e) => (e === null ? undefined : openWith(keys, e)));
  }

  /**
   * Destroys `uid`'s data key for good ({@link destroyDataKey}: every listening key ring drops
   * it) and caches that answer here. Idempotent; the first destruction time is kept.
   */
  async destroyKey(uid: string): Promise<void> {
    this.destroys++;
    this.loading.delete(uid);
    this.creating.delete(uid);
    try {
      await destroyDataKey(this.pool, uid);
      this.cache.set(uid, null);
    } finally {
      this.destroys++;
    }
  }

  /**
   * Which of `uids` have a destroyed key (erased users), as the database says now: to tell an
   * envelope that opens to null because its owner was erased from one whose key is missing.
   */
  async destroyedAmong(uids: readonly string[]): Promise<Set<string>> {
    if (uids.length === 0) return new Set();
    const { rows } = await this.pool.query<{ uid: string }>(
      `SELECT uid FROM user_keys WHERE uid = ANY($1::text[]) AND wrapped_key IS NULL`,
      [[...new Set(uids)]],
    );
    return new Set(rows.map((r) => r.uid));
  }

  /** A destroy heard from another process: the key is gone here too. */
  private forget(uid: string): void {
    this.destroys++;
    this.loading.delete(uid);
    this.creating.delete(uid);
    this.cache.set(uid, null);
  }

  /** Forgets every cached answer (a destroy may have gone unheard); loads in flight cache nothing. */
  private forgetAll(): void {
    this.destroys++;
    this.loading.clear();
    this.cache = new Lru(this.cacheSize);
  }

  /** Whether a slot just read may be cached: a destroyed key always, a live one while heard. */
  private cacheable(slot: Slot, epoch: number): boolean {
    return slot === null || (epoch === this.destroys && this.watch !== 'down');
  }

  private async connectListener(): Promise<void> {
    const client = new Client({
      ...this.pool.options,
      keepAlive: true,
      application_name: 'key-ring-listener',
    });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      client.end().catch(() => undefined);
      if (this.listener === client) this.listener = null;
      if (this.closed) return;
      // A destroy announced while nobody listened would go unheard: forget, and cache nothing
      // until listening again.
      this.watch = 'down';
      this.forgetAll();
      this.scheduleReconnect();
    };
    client.on('notification', (msg) => {
      if (msg.channel === KEY_DESTROYED_CHANNEL && msg.payload) this.forget(msg.payload);
    });
    client.on('error', onLost);
    client.on('end', onLost);
    try {
      await client.connect();
      await client.query(`LISTEN ${KEY_DESTROYED_CHANNEL}`);
      if (this.closed || lost) {
        await client.end().catch(() => undefined);
        return;
      }
      this.listener = client;
      // Keys cached before this point may have been destroyed unheard.
      this.forgetAll();
      this.watch = 'on';
      this.retryDelayMs = LISTEN_RETRY_MIN_MS;
    } catch {
      onLost();
    } finally {
      this.connecting = null;
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, LISTEN_RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed || this.listener) return;
      if (this.connecting) this.scheduleReconnect();
      else this.connecting = this.connectListener();
    }, delay);
    this.retryTimer.unref();
  }

  private async keyForWriting(uid: string): Promise<Buffer> {
    const slot = (await this.keysOf([uid])).get(uid);
    if (slot === null) throw new KeyDestroyedError(uid);
    if (slot) return slot;
    let creating = this.creating.get(uid);
    if (!creating) {
      const created = this.create(uid).finally(() => {
        if (this.creating.get(uid) === created) this.creating.delete(uid);
      });
      this.creating.set(uid, created);
      creating = created;
    }
    return creating;
  }

  /**
   * Creates `uid`'s data key, race-safely across processes: the first insert wins and everyone
   * reads the winner back. A destroyed row also wins, so a destroyed key is never recreated.
   */
  private async create(uid: string): Promise<Buffer> {
    const epoch = this.destroys;
    const key = randomBytes(KEY_BYTES);
    const inserted = await this.pool.query(
      `INSERT INTO user_keys (uid, wrapped_key) VALUES ($1, $2) ON CONFLICT (uid) DO NOTHING`,
      [uid, this.wrap(uid, key)],
    );
    let slot: Slot = key;
    if (inserted.rowCount !== 1) {
      // ON CONFLICT waited for the competing insert to commit, so this new statement sees its row.
      const { rows } = await this.pool.query<{ wrapped_key: Buffer | null }>(
        `SELECT wrapped_key FROM user_keys WHERE uid = $1`,
        [uid],
      );
      if (rows.length !== 1) throw new Error(`the user_keys row of user ${uid} vanished`);
      slot = rows[0].wrapped_key === null ? null : this.unwrap(uid, rows[0].wrapped_key);
    }
    if (this.cacheable(slot, epoch)) this.cache.set(uid, slot);
    if (slot === null) throw new KeyDestroyedError(uid);
    return slot;
  }

  /** The slots of `uids` from the cache, or one query for all those neither cached nor loading. */
  private async keysOf(uids: readonly string[]): Promise<Found> {
    const keys: Found = new Map();
    const waits: Promise<unknown>[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const uid of uids) {
      if (seen.has(uid)) continue;
      seen.add(uid);
      const cached = this.cache.get(uid);
      if (cached !== undefined) {
        keys.set(uid, cached);
        continue;
      }
      const loading = this.loading.get(uid);
      if (loading) waits.push(loading.then((found) => copy(found, uid, keys)));
      else missing.push(uid);
    }
    if (missing.length > 0) {
      const query = this.load(missing);
      for (const uid of missing) this.loading.set(uid, query);
      const settled = () => {
        for (const uid of missing) if (this.loading.get(uid) === query) this.loading.delete(uid);
      };
      void query.then(settled, settled);
      waits.push(query.then((found) => missing.forEach((uid) => copy(found, uid, keys))));
    }
    await Promise.all(waits);
    return keys;
  }

  private async load(uids: readonly string[]): Promise<Found> {
    const epoch = this.destroys;
    const { rows } = await this.pool.query<{ uid: string; wrapped_key: Buffer | null }>(
      `SELECT uid, wrapped_key FROM user_keys WHERE uid = ANY($1::text[])`,
      [uids],
    );
    const found: Found = new Map();
    for (const row of rows) {
      found.set(row.uid, row.wrapped_key === null ? null : this.unwrap(row.uid, row.wrapped_key));
    }
    // "Never existed" is not cached: another node may create the key at any moment.
    for (const [uid, slot] of found) {
      if (this.cacheable(slot, epoch)) this.cache.set(uid, slot);
    }
    return found;
  }

  private wrap(uid: string, key: Buffer): Buffer {
    const iv = randomBytes(IV_BYTES);
    return Buffer.concat([iv, seal(this.masterKey, iv, key, Buffer.from(uid, 'utf8'))]);
  }

  private unwrap(uid: string, wrapped: Buffer): Buffer {
    const key = unwrapWith(this.masterKey, uid, wrapped);
    if (!key) throw new KeyUnwrapError(uid);
    return key;
  }
}

/** `uid`'s data key from its wrapped form, or null when it does not open under `masterKey`. */
function unwrapWith(masterKey: Buffer, uid: string, wrapped: Buffer): Buffer | null {
  if (wrapped.length !== WRAPPED_KEY_BYTES) return null;
  try {
    const iv = wrapped.subarray(0, IV_BYTES);
    return open(masterKey, iv, wrapped.subarray(IV_BYTES), Buffer.from(uid, 'utf8'));
  } catch {
    return null;
  }
}

/** Opens `e` with its owner's key among `keys`: null when there is none (destroyed, missing). */
function openWith(keys: Found, e: Envelope): string | null {
  const key = keys.get(e.uid);
  if (!key) return null;
  try {
    return open(key, e.iv, e.sealed, e.aad).toString('utf8');
  } catch {
    throw new InvalidEnvelopeError(
      `an envelope of user ${e.uid} fails authentication: tampered, or not sealed with their key`,
    );
  }
}

function copy(found: Found, uid: string, into: Found): void {
  const slot = found.get(uid);
  if (slot !== undefined) into.set(uid, slot);
}

/** AES-256-GCM: ciphertext || tag. */
function seal(key: Buffer, iv: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Opens what {@link seal} sealed; throws when authentication fails. */
function open(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([
    decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]);
}

/** The parts of an `e1` envelope, or null when it is not one (including non-canonical base64url). */
function parse(envelope: string): Envelope | null {
  // Most texts are not envelopes: told apart without splitting them.
  if (!envelope.startsWith(`${FORMAT}.`)) return null;
  const parts = envelope.split('.');
  if (parts.length !== 4 || parts[0] !== FORMAT) return null;
  const [aad, iv, sealed] = parts.slice(1).map(decodeBase64url);
  if (!aad || !iv || !sealed || iv.length !== IV_BYTES || sealed.length < TAG_BYTES) return null;
  const uid = aad.toString('utf8');
  // Only a uid that is valid UTF-8 round-trips; anything else was not written by encryptFor.
  if (!Buffer.from(uid, 'utf8').equals(aad)) return null;
  return { uid, aad, iv, sealed };
}

function decodeBase64url(text: string): Buffer | null {
  if (!BASE64URL.test(text)) return null;
  // One spelling per byte string, so an envelope cannot be altered without changing its bytes:
  // unpadded base64url is canonical when its length leaves no lone character and the last
  // character's bits past the data are zero (what encoding the bytes again would check, cheaper).
  const rest = text.length % 4;
  if (rest === 1) return null;
  if (rest !== 0 && BASE64URL_VALUE.indexOf(text[text.length - 1]) & (rest === 2 ? 0x0f : 0x03)) {
    return null;
  }
  return Buffer.from(text, 'base64url');
}
