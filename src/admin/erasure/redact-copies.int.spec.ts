import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { quoteIdent } from '../../../projections/projection-runner';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import { DirectSender, testKeyRing, testProjectors } from '../../../test/support/messaging';
import { USER_REGISTERED, userStream } from '../../accounts/accounts.events';
import type { EventMetadata } from '../../event-store/event-store.port';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { GROUP_APPLIED, GROUP_CREATED, groupStream } from '../../groups/groups.events';
import { conversationStream } from '../../messaging/domain/conversation';
import { MESSAGE_SENT, MessageSentData } from '../../messaging/messaging.events';
import { buildSnapshot } from '../replay/time-travel';
import { eraseUser } from './erase-user';

const ADMIN: EventMetadata = { actor: { kind: 'admin', id: 'test' }, correlationId: 'erasure' };
const AT_US = 1_800_000_000_000_000;

/**
 * Erasure reaches the copies of the read models that no projection runner follows to the
 * `UserErased` event: a time-travel snapshot taken before the erasure, a rebuild's shadow, the
 * tables a swap retired. After `erase-user alice` none of them shows what she wrote; bob's words,
 * and schemas that are not copies, are left as they are.
 */
describe('erasure of a user in the copies of the read models', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  const ALICE_SEALED = 'alice sealed words';
  const ALICE_PLAIN = 'alice plain words';
  const APPLICATION = 'alice application words';
  const BOB = 'bob words';
  const ALICE_WORDS = [ALICE_SEALED, ALICE_PLAIN, APPLICATION];

  const append = (stream: string, type: string, data: unknown, actor = 'test') =>
    store.append(
      stream,
      [
        {
          id: randomUUID(),
          type,
          data,
          metadata: { actor: { kind: 'system', id: actor }, correlationId: 'c' },
        },
      ],
      'any',
    );
  const dump = async (schema: string, table: string) =>
    JSON.stringify(
      (await pool.query(`SELECT * FROM ${quoteIdent(schema)}.${quoteIdent(table)}`)).rows,
    );
  const schemaText = async (schema: string) =>
    (await dump(schema, 'rm_messages')) +
    (await dump(schema, 'rm_group_requests')) +
    (await dump(schema, 'rm_group_notices'));

  let snapshot: string;
  /** Where that snapshot stops: before alice's erasure. */
  let snapshotPosition: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 6);
    store = new PostgresEventStore(pool);
    for (const uid of ['alice', 'bob', 'carol']) {
      await append(userStream(uid), USER_REGISTERED, { uid, platform: 1 });
    }
    // Given alice and bob talking, her words sealed with her key
    const sender = new DirectSender(store, testKeyRing(pool));
    await sender.send('alice', 'bob', ALICE_SEALED);
    await sender.send('bob', 'alice', BOB);
    // And a message of hers written before content was sealed: plain in the log
    await append(conversationStream('alice~carol'), MESSAGE_SENT, {
      conversationId: 'alice~carol',
      senderUid: 'alice',
      receiverType: 1,
      receiverId: 'carol',
      msgType: 1,
      content: JSON.stringify({ content: ALICE_PLAIN }),
      atUids: null,
      msgSource: 0,
      newFaceVersion: 0,
      devId: randomUUID(),
      seqno: 1,
      msgKey: '424242',
      sentAtUs: AT_US,
    } satisfies MessageSentData);
    // And her application to carol's group, plain in the log
    await append(groupStream('club'), GROUP_CREATED, {
      groupId: 'club',
      atUs: AT_US,
      name: 'club',
      faceUrl: '',
      introduction: '',
      notification: '',
      ex: '',
      groupType: 0,
      temporary: false,
      joinPolicy: 'approval',
      ownerUid: 'carol',
      creatorUid: 'carol',
      members: [{ uid: 'carol', roleLevel: 2 }],
    });
    await append(groupStream('club'), GROUP_APPLIED, {
      groupId: 'club',
      uid: 'alice',
      reqMessage: APPLICATION,
      atUs: AT_US,
    });

    // And a time-travel snapshot of that moment
    const built = await buildSnapshot(
      { pool, store, projectors: testProjectors(pool) },
      { position: (await store.headPosition())! },
    );
    snapshot = `asof_${built.snapshot.id}`;
    snapshotPosition = built.snapshot.position;
    // And a rebuild's shadow of the group projection only (interrupted), the tables a swap
    // retired, and a schema that is no copy of the read models
    await pool.query(`
      CREATE SCHEMA rebuild_0123456789ab;
      CREATE TABLE rebuild_0123456789ab.rm_group_requests AS SELECT * FROM ${snapshot}.rm_group_requests;
      CREATE TABLE rebuild_0123456789ab.rm_group_notices AS SELECT * FROM ${snapshot}.rm_group_notices;
      CREATE SCHEMA retired_rebuild_0123456789ab;
      CREATE TABLE retired_rebuild_0123456789ab.rm_messages AS SELECT * FROM ${snapshot}.rm_messages;
      CREATE SCHEMA reporting;
      CREATE TABLE reporting.rm_messages AS SELECT * FROM ${snapshot}.rm_messages;`);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('shows her words in every copy before the erasure', async () => {
    const text = await schemaText(snapshot);
    for (const words of [...ALICE_WORDS, BOB]) expect(text).toContain(words);
    expect(await dump('rebuild_0123456789ab', 'rm_group_requests')).toContain(APPLICATION);
    expect(await dump('retired_rebuild_0123456789ab', 'rm_messages')).toContain(ALICE_PLAIN);
  });

  it('empties what she wrote in each copy, at once, and says how many', async () => {
    // When an administrator erases alice (no projection runner is running)
    const result = await eraseUser(
      {
        store,
        pool,
        destroyKey: (uid) => testKeyRing(pool).destroyKey(uid),
        nowUs: () => AT_US + 1_000,
      },
      'alice',
      ADMIN,
    );

    // Then the snapshot, the shadow and the retired tables are redacted
    expect(result).toMatchObject({ status: 'erased', copies_redacted: 3 });
    const text = await schemaText(snapshot);
    for (const words of ALICE_WORDS) expect(text).not.toContain(words);
    expect(text).toContain(BOB);
    const messages = await pool.query<{ sender_uid: string; content: string; erased: boolean }>(
      `SELECT sender_uid, content, erased FROM ${snapshot}.rm_messages ORDER BY sender_uid, msg_key`,
    );
    expect(messages.rows).toEqual([
      { sender_uid: 'alice', content: '', erased: true },
      { sender_uid: 'alice', content: '', erased: true },
      { sender_uid: 'bob', content: JSON.stringify({ content: BOB }), erased: false },
    ]);
    const shadow = await dump('rebuild_0123456789ab', 'rm_group_requests');
    expect(shadow).not.toContain(APPLICATION);
    expect(await dump('rebuild_0123456789ab', 'rm_group_notices')).not.toContain(APPLICATION);
    expect(await dump('retired_rebuild_0123456789ab', 'rm_messages')).not.toContain(ALICE_PLAIN);
    // And a schema that is not a copy is not touched
    expect(await dump('reporting', 'rm_messages')).toContain(ALICE_PLAIN);
  });

  it('redacts the copies again when erased again (a copy made since would be covered)', async () => {
    const again = await eraseUser(
      {
        store,
        pool,
        destroyKey: (uid) => testKeyRing(pool).destroyKey(uid),
        nowUs: () => AT_US + 2_000,
      },
      'alice',
      ADMIN,
    );
    expect(again).toMatchObject({ status: 'already_erased', copies_redacted: 3 });
  });

  it('holds none of her words in a snapshot built after the erasure, of a time before it', async () => {
    // Given alice erased (above), when a snapshot is built of the moment before her erasure,
    // from a log that still holds her plain words and stops before her UserErased
    const [commit, prepare] = snapshotPosition.split('/').map(BigInt);
    const built = await buildSnapshot(
      { pool, store, projectors: testProjectors(pool) },
      { position: { commit, prepare } },
    );
    const later = `asof_${built.snapshot.id}`;

    // Then it shows bob's words and her messages, empty and marked erased, but none of hers
    expect(built.snapshot.position).toBe(snapshotPosition);
    const text = await schemaText(later);
    for (const words of ALICE_WORDS) expect(text).not.toContain(words);
    expect(text).toContain(BOB);
    const messages = await pool.query<{ sender_uid: string; content: string; erased: boolean }>(
      `SELECT sender_uid, content, erased FROM ${later}.rm_messages ORDER BY sender_uid, msg_key`,
    );
    expect(messages.rows.map((r) => [r.sender_uid, r.erased])).toEqual([
      ['alice', true],
      ['alice', true],
      ['bob', false],
    ]);
    // And her application is still there, only without its words
    const requests = await pool.query(`SELECT uid, req_message FROM ${later}.rm_group_requests`);
    expect(requests.rows).toEqual([{ uid: 'alice', req_message: '' }]);
  });
});
