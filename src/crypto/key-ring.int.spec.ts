import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { createTestDatabase, createTestPool, TestDatabase } from '../../test/support/database';
import { waitFor } from '../../test/support/wait-for';
import {
  destroyDataKey,
  InvalidEnvelopeError,
  KeyDestroyedError,
  KeyRing,
  KeyUnwrapError,
} from './key-ring';

/** Counts the queries a pool runs from now on. */
function countQueries(pool: Pool): { readonly count: number; reset(): void } {
  const spy = jest.spyOn(pool, 'query');
  return {
    get count() {
      return spy.mock.calls.length;
    },
    reset: () => spy.mockClear(),
  };
}

/** The envelope with one byte of one of its parts flipped (part 1: uid, 2: iv, 3: sealed). */
function flipByte(envelope: string, part: 1 | 2 | 3, at = 0): string {
  const parts = envelope.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[at] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('KeyRing over PostgreSQL', () => {
  let db: TestDatabase;
  let pool: Pool;
  let masterKey: Buffer;
  let ring: KeyRing;
  const extraPools: Pool[] = [];
  const listening: KeyRing[] = [];

  /** Another API node: its own pool and its own cache, on the same database. */
  const otherNode = (key = masterKey) => {
    const p = createTestPool(db.url, 10);
    extraPools.push(p);
    return { pool: p, ring: new KeyRing(p, key) };
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 10);
    masterKey = randomBytes(32);
    ring = new KeyRing(pool, masterKey);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(listening.splice(0).map((r) => r.close()));
    await Promise.all(extraPools.splice(0).map((p) => p.end()));
    await pool.end();
    await db.drop();
  });

  describe('sealing and opening', () => {
    it('opens what it sealed, including empty and non-ASCII text', async () => {
      for (const text of ['hello bob', '', '你好 👋 \u00e9', 'x'.repeat(10_000)]) {
        // Given text sealed for a user / When opened / Then it is the text
        const envelope = await ring.encryptFor('alice', text);
        expect(await ring.decrypt(envelope)).toBe(text);
      }
    });

    it('writes e1.<uid>.<12-byte iv>.<ciphertext and 16-byte tag>, a fresh iv each time', async () => {
      // Given a text sealed twice for one user
      const a = await ring.encryptFor('user.with.dots', 'same text');
      const b = await ring.encryptFor('user.with.dots', 'same text');

      // Then each envelope names its owner and carries its own iv
      for (const envelope of [a, b]) {
        expect(envelope).toMatch(/^e1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        const [, uid, iv, sealed] = envelope.split('.');
        expect(Buffer.from(uid, 'base64url').toString('utf8')).toBe('user.with.dots');
        expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
        expect(Buffer.from(sealed, 'base64url')).toHaveLength(Buffer.byteLength('same text') + 16);
        expect(envelope).not.toContain('same text');
        expect(KeyRing.isEnvelope(envelope)).toBe(true);
      }
      expect(a).not.toBe(b);
      expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
    });

    it('tells envelopes from other values', async () => {
      const envelope = await ring.encryptFor('alice', 'hi');
      expect(KeyRing.isEnvelope(envelope)).toBe(true);
      for (const other of [
        'hi',
        '{"content":"hi"}',
        envelope.replace(/^e1/, 'e2'),
        `${envelope}.more`,
        envelope.split('.').slice(0, 3).join('.'),
        `${envelope.slice(0, -1)}=`,
        flipByteLength(envelope),
        42,
        null,
        undefined,
        { envelope },
      ]) {
        expect(KeyRing.isEnvelope(other)).toBe(false);
      }
    });

    it('refuses a second spelling of the same bytes (bits past the data in the last character)', async () => {
      // 'hi!' seals to 19 bytes: 26 characters, the last carrying 2 bits of data and 4 spare.
      const envelope = await ring.encryptFor('alice', 'hi!');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(envelope[envelope.length - 1]);
      expect(envelope.split('.')[3]).toHaveLength(26);
      expect(last & 0x0f).toBe(0);
      const respelled = envelope.slice(0, -1) + alphabet[last | 0x01];
      expect(Buffer.from(respelled.split('.')[3], 'base64url')).toEqual(
        Buffer.from(envelope.split('.')[3], 'base64url'),
      );
      expect(KeyRing.isEnvelope(envelope)).toBe(true);
      expect(KeyRing.isEnvelope(respelled)).toBe(false);
      await expect(ring.decrypt(respelled)).rejects.toThrow(InvalidEnvelopeError);
    });

    it('opens the envelopes among other values, each parsed once, with one query', async () => {
      const alice = await ring.encryptFor('alice', 'from alice');
      const bob = await ring.encryptFor('bob', 'from bob');
      await ring.destroyKey('bob');
      const reader = otherNode();
      const queries = countQueries(reader.pool);

      const opened = await reader.ring.openWhereSealed([alice, 'plain text', 42, bob, null, alice]);

      // Text for an envelope, null for one whose key is destroyed, undefined for anything else
      expect(opened).toEqual(['from alice', undefined, undefined, null, undefined, 'from alice']);
      expect(queries.count).toBe(1);
      expect(await reader.ring.openWhereSealed(['nothing sealed'])).toEqual([undefined]);
      expect(queries.count).toBe(1);
    });

    it('keeps one wrapped key of iv, sealed key and tag (60 bytes) per user', async () => {
      // Given two users who each sealed several texts
      await ring.encryptFor('alice', 'one');
      await ring.encryptFor('alice', 'two');
      await ring.encryptFor('bob', 'three');

      // Then each has one row holding a key wrapped under the master key
      const { rows } = await pool.query<{ uid: string; n: number; destroyed_at: Date | null }>(
        `SELECT uid, length(wrapped_key) AS n, destroyed_at FROM user_keys ORDER BY uid`,
      );
      expect(rows).toEqual([
        { uid: 'alice', n: 60, destroyed_at: null },
        { uid: 'bob', n: 60, destroyed_at: null },
      ]);
    });

    it('answers from its cache without a query once a key is known', async () => {
      // Given a key this node created
      const first = await ring.encryptFor('alice', 'one');
      const queries = countQueries(pool);

      // When it seals and opens more for that user
      const second = await ring.encryptFor('alice', 'two');
      expect(await ring.decrypt(first)).toBe('one');
      expect(await ring.decryptMany([first, second])).toEqual(['one', 'two']);

      // Then the database is not asked
      expect(queries.count).toBe(0);
    });

    it('opens null for an owner who never had a key', async () => {
      // Given an envelope of a user whose key row is gone (here: a database without it)
      const envelope = await ring.encryptFor('ghost', 'boo');
      await pool.query(`DELETE FROM user_keys WHERE uid = 'ghost'`);

      // When another node opens it / Then there is nothing to open it with
      expect(await otherNode().ring.decrypt(envelope)).toBeNull();
    });
  });

  describe('tampering', () => {
    it.each([
      ['ciphertext', 3, 0],
      ['tag', 3, -1],
      ['iv', 2, 0],
    ] as const)('refuses an envelope whose %s was changed', async (_what, part, at) => {
      // Given a sealed text with one bit flipped
      const envelope = await ring.encryptFor('alice', 'pay bob 10');
      const sealedLength = Buffer.from(envelope.split('.')[part], 'base64url').length;
      const tampered = flipByte(envelope, part, at < 0 ? sealedLength + at : at);

      // When opened / Then it fails authentication, alone and in a batch
      await expect(ring.decrypt(tampered)).rejects.toThrow(InvalidEnvelopeError);
      await expect(ring.decryptMany([envelope, tampered])).rejects.toThrow(/fails authentication/);
      await expect(otherNode().ring.decrypt(tampered)).rejects.toThrow(InvalidEnvelopeError);
    });

    it('refuses an envelope moved to another owner', async () => {
      // Given two users with keys, and alice's envelope relabelled as bob's
      const envelope = await ring.encryptFor('alice', 'mine');
      await ring.encryptFor('bob', 'his');
      const parts = envelope.split('.');
      parts[1] = Buffer.from('bob').toString('base64url');

      // When opened / Then bob's key and uid do not authenticate it
      await expect(ring.decrypt(parts.join('.'))).rejects.toThrow(InvalidEnvelopeError);
      // Nor does a one-bit change of the uid that still names an existing user
      await ring.encryptFor('alicd', 'x'); // 'e' ^ 1
      await expect(ring.decrypt(flipByte(envelope, 1, 4))).rejects.toThrow(InvalidEnvelopeError);
    });

    it('refuses a malformed envelope before asking the database', async () => {
      const envelope = await ring.encryptFor('alice', 'hi');
      const fresh = new KeyRing(pool, masterKey);
      const queries = countQueries(pool);
      for (const bad of ['hi', '', envelope.replace(/^e1/, 'e2'), `${envelope}.x`]) {
        await expect(fresh.decrypt(bad)).rejects.toThrow(InvalidEnvelopeError);
        await expect(fresh.decryptMany([envelope, bad])).rejects.toThrow(/envelope 1 is not/);
      }
      expect(queries.count).toBe(0);
    });
  });

  describe('two nodes on one database', () => {
    it('end with one key, which both use, when they race to create it', async () => {
      // Given two nodes that have never seen carol
      const a = otherNode();
      const b = otherNode();

      // When both seal for her at once, many times
      const envelopes = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).ring.encryptFor('carol', `m${i}`)),
      );

      // Then one key exists, and each node opens what the other sealed
      const { rows } = await pool.query(`SELECT uid FROM user_keys`);
      expect(rows).toEqual([{ uid: 'carol' }]);
      const expected = envelopes.map((_, i) => `m${i}`);
      expect(await a.ring.decryptMany(envelopes)).toEqual(expected);
      expect(await b.ring.decryptMany(envelopes)).toEqual(expected);
      expect(await ring.decryptMany(envelopes)).toEqual(expected);
    });

    it('adopt the key of the node that created it first', async () => {
      // Given node a, which finds no key for carol, and node b, which creates one just before a
      // inserts its own
      const a = otherNode();
      const b = otherNode();
      type Query = (text: string, values?: unknown[]) => Promise<unknown>;
      const query = a.pool.query.bind(a.pool) as Query;
      let fromB: string | undefined;
      (a.pool as unknown as { query: Query }).query = async (text, values) => {
        if (text.startsWith('INSERT')) fromB = await b.ring.encryptFor('carol', 'from b');
        return query(text, values);
      };

      // When a seals for carol
      const fromA = await a.ring.encryptFor('carol', 'from a');

      // Then a reads b's key back and uses it: each opens the other's envelope
      expect(fromB).toBeDefined();
      expect(await b.ring.decrypt(fromA)).toBe('from a');
      expect(await a.ring.decrypt(fromB!)).toBe('from b');
      const { rows } = await pool.query(`SELECT uid FROM user_keys`);
      expect(rows).toEqual([{ uid: 'carol' }]);
    });
  });

  describe('a batch', () => {
    it('loads every missing key in one query, then none', async () => {
      // Given 1,000 envelopes of 50 users, opened by a node that holds none of their keys
      const envelopes = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => ring.encryptFor(`user-${i % 50}`, `text ${i}`)),
      );
      const reader = otherNode();
      const queries = countQueries(reader.pool);

      // When it opens them all
      const texts = await reader.ring.decryptMany(envelopes);

      // Then one query loaded the 50 keys, and a second pass needs none
      expect(texts).toEqual(envelopes.map((_, i) => `text ${i}`));
      expect(queries.count).toBe(1);
      expect(await reader.ring.decryptMany(envelopes.slice().reverse())).toEqual(
        texts.slice().reverse(),
      );
      expect(queries.count).toBe(1);
    });

    it('shares one query between concurrent batches that miss the same keys', async () => {
      const envelopes = await Promise.all(
        Array.from({ length: 100 }, (_, i) => ring.encryptFor(`user-${i % 10}`, `t${i}`)),
      );
      const reader = otherNode();
      const queries = countQueries(reader.pool);
      await Promise.all([
        reader.ring.decryptMany(envelopes),
        reader.ring.decryptMany(envelopes),
        reader.ring.decrypt(envelopes[0]),
      ]);
      expect(queries.count).toBe(1);
    });

    it('asks only for the keys it does not hold', async () => {
      // Given a node that holds alice's key but not bob's
      const forAlice = await ring.encryptFor('alice', 'a');
      const forBob = await otherNode().ring.encryptFor('bob', 'b');
      const queries = countQueries(pool);

      // When it opens both / Then it loads bob's key alone
      expect(await ring.decryptMany([forAlice, forBob, forAlice])).toEqual(['a', 'b', 'a']);
      expect(queries.count).toBe(1);
      const [, params] = jest.mocked(pool.query).mock.calls[0] as unknown as [string, unknown[]];
      expect(params).toEqual([['bob']]);
    });
  });

  describe('erasure', () => {
    it("makes a user's envelopes unreadable and their writes impossible, on every node", async () => {
      // Given dave and erin with sealed texts, opened once on another node
      const forDave = [await ring.encryptFor('dave', 'd1'), await ring.encryptFor('dave', 'd2')];
      const forErin = await ring.encryptFor('erin', 'e1');

      // When dave's key is destroyed
      await ring.destroyKey('dave');

      // Then his envelopes open to null, erin's still open, and nothing can be sealed for him
      expect(await ring.decrypt(forDave[0])).toBeNull();
      expect(await ring.decryptMany([forDave[0], forErin, forDave[1]])).toEqual([null, 'e1', null]);
      await expect(ring.encryptFor('dave', 'again')).rejects.toThrow(KeyDestroyedError);
      // And so on a node that starts afresh, which does not create a new key for him
      const later = otherNode();
      expect(await later.ring.decryptMany([...forDave, forErin])).toEqual([null, null, 'e1']);
      await expect(later.ring.encryptFor('dave', 'again')).rejects.toThrow(
        new KeyDestroyedError('dave'),
      );
      const { rows } = await pool.query<{ wrapped_key: Buffer | null; destroyed: boolean }>(
        `SELECT wrapped_key, destroyed_at IS NOT NULL AS destroyed FROM user_keys WHERE uid = 'dave'`,
      );
      expect(rows).toEqual([{ wrapped_key: null, destroyed: true }]);
    });

    it('remembers a destroyed key without asking again', async () => {
      // Given a destroyed key, seen once by a node
      const envelope = await ring.encryptFor('dave', 'd');
      await ring.destroyKey('dave');
      const reader = otherNode();
      expect(await reader.ring.decrypt(envelope)).toBeNull();
      const queries = countQueries(reader.pool);

      // When the node is asked again / Then it answers from memory
      expect(await reader.ring.decrypt(envelope)).toBeNull();
      await expect(reader.ring.encryptFor('dave', 'x')).rejects.toThrow(KeyDestroyedError);
      expect(queries.count).toBe(0);
    });

    it('destroys a key that never existed, so that it is never created', async () => {
      // Given a user erased before they ever wrote
      await ring.destroyKey('frank');
      await ring.destroyKey('frank');

      // Then no node can seal for them
      await expect(ring.encryptFor('frank', 'x')).rejects.toThrow(KeyDestroyedError);
      await expect(otherNode().ring.encryptFor('frank', 'x')).rejects.toThrow(KeyDestroyedError);
      const { rows } = await pool.query(
        `SELECT wrapped_key FROM user_keys WHERE uid = 'frank' AND destroyed_at IS NOT NULL`,
      );
      expect(rows).toEqual([{ wrapped_key: null }]);
    });

    it('wins over a racing first write: the user ends with no key', async () => {
      // Given a user erased while two nodes try to write their first message
      const a = otherNode();
      const results = await Promise.allSettled([
        a.ring.encryptFor('gina', 'hi'),
        ring.destroyKey('gina'),
        a.ring.encryptFor('gina', 'hi again'),
      ]);

      // Then the key is destroyed, and whatever was sealed opens to null everywhere
      const sealed = results.flatMap((r) =>
        r.status === 'fulfilled' && typeof r.value === 'string' ? [r.value] : [],
      );
      expect(await otherNode().ring.decryptMany(sealed)).toEqual(sealed.map(() => null));
      expect(await ring.decryptMany(sealed)).toEqual(sealed.map(() => null));
      await expect(otherNode().ring.encryptFor('gina', 'x')).rejects.toThrow(KeyDestroyedError);
    });
  });

  describe('a destroy on one node', () => {
    /** A node that follows destroys, as every process of the application does from its start. */
    const listeningNode = async () => {
      const node = otherNode();
      listening.push(node.ring);
      await node.ring.listen();
      expect(node.ring.listening).toBe(true);
      return node;
    };
    const listenerBackends = async () =>
      (
        await pool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE application_name = 'key-ring-listener' AND datname = current_database()`,
        )
      ).rows.map((r) => r.pid);

    it('reaches the cache of every other node at once, without a query there', async () => {
      // Given nodes a and b that both hold alice's key, b having opened her text before
      const a = await listeningNode();
      const b = await listeningNode();
      const envelope = await a.ring.encryptFor('alice', 'secret of alice');
      const forBob = await a.ring.encryptFor('bob', 'bob stays');
      expect(await b.ring.decryptMany([envelope, forBob])).toEqual([
        'secret of alice',
        'bob stays',
      ]);
      const queries = countQueries(b.pool);

      // When a destroys her key
      await a.ring.destroyKey('alice');

      // Then b stops opening her text and sealing for her, answering from its cache (the
      // notification, not a reload), while bob's key is untouched
      await waitFor(async () => (await b.ring.decrypt(envelope)) === null, 'b to drop the key');
      await expect(b.ring.encryptFor('alice', 'more')).rejects.toThrow(KeyDestroyedError);
      expect(await b.ring.decrypt(forBob)).toBe('bob stays');
      expect(queries.count).toBe(0);
    });

    it('reaches them when made without a key ring (the admin CLI)', async () => {
      const b = await listeningNode();
      const envelope = await b.ring.encryptFor('carl', 'c');
      expect(await b.ring.decrypt(envelope)).toBe('c');

      await destroyDataKey(pool, 'carl');

      await waitFor(async () => (await b.ring.decrypt(envelope)) === null, 'b to drop the key');
    });

    it('is not missed while the listening connection is down: the keys held are forgotten', async () => {
      // Given a node that holds dora's key, whose listening connection is cut
      const b = await listeningNode();
      const envelope = await b.ring.encryptFor('dora', 'd');
      expect(await b.ring.decrypt(envelope)).toBe('d');
      const [pid] = await listenerBackends();
      await pool.query('SELECT pg_terminate_backend($1)', [pid]);

      // When her key is destroyed while the node may not be listening
      await destroyDataKey(pool, 'dora');

      // Then once it listens again it no longer opens her text
      await waitFor(
        async () => b.ring.listening && (await listenerBackends()).length === 1,
        'the node to listen again',
      );
      expect(await b.ring.decrypt(envelope)).toBeNull();
    });

    it('stops listening on close, leaving no connection behind', async () => {
      const b = await listeningNode();
      expect(await listenerBackends()).toHaveLength(1);
      await b.ring.close();
      await waitFor(async () => (await listenerBackends()).length === 0, 'the listener to end');
      expect(b.ring.listening).toBe(false);
    });
  });

  describe('the master key', () => {
    it('must be 32 bytes', () => {
      expect(() => new KeyRing(pool, randomBytes(16))).toThrow(/32 bytes/);
    });

    it('cannot unwrap keys that another master key wrapped', async () => {
      // Given a key wrapped under one master key
      const envelope = await ring.encryptFor('hank', 'secret');

      // When a node configured with another master key uses it
      const wrong = otherNode(randomBytes(32)).ring;

      // Then it fails clearly, naming MASTER_KEY, and neither opens nor replaces the key
      await expect(wrong.decrypt(envelope)).rejects.toThrow(KeyUnwrapError);
      await expect(wrong.decryptMany([envelope])).rejects.toThrow(/MASTER_KEY/);
      await expect(wrong.encryptFor('hank', 'x')).rejects.toThrow(
        'cannot unwrap the data key of user hank',
      );
      expect(await otherNode().ring.decrypt(envelope)).toBe('secret');
    });

    it('cannot unwrap a wrapped key copied to another user', async () => {
      // Given ivan's wrapped key copied onto judy's row
      await ring.encryptFor('ivan', 'i');
      const forJudy = await ring.encryptFor('judy', 'j');
      await pool.query(
        `UPDATE user_keys SET wrapped_key = (SELECT wrapped_key FROM user_keys WHERE uid = 'ivan')
          WHERE uid = 'judy'`,
      );

      // When a fresh node opens judy's envelope / Then the uid bound into the wrapping refuses it
      await expect(otherNode().ring.decrypt(forJudy)).rejects.toThrow(KeyUnwrapError);
    });
  });
});

/** The envelope with its iv one byte short: a shape error. */
function flipByteLength(envelope: string): string {
  const parts = envelope.split('.');
  parts[2] = Buffer.from(parts[2], 'base64url').subarray(1).toString('base64url');
  return parts.join('.');
}
