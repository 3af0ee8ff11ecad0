import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { GroupsProjector } from '../../../projections/groups.projector';
import { MessagesProjector } from '../../../projections/messages.projector';
import type { Projector } from '../../../projections/projector';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import { testKeyRing } from '../../../test/support/messaging';
import { USER_ERASED, UserErasedData } from '../../accounts/accounts.events';
import type { RecordedEvent } from '../../event-store/event-store.port';
import {
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_CREATED,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
} from '../../groups/groups.events';
import { MESSAGE_SENT, MessageSentData } from '../../messaging/messaging.events';

let position = 0n;
const recorded = (streamId: string, type: string, data: unknown): RecordedEvent => {
  position++;
  return {
    id: randomUUID(),
    type,
    streamId,
    revision: 0,
    position: { commit: position, prepare: position },
    data,
    metadata: { actor: { kind: 'system', id: 'test' }, correlationId: 'redaction' },
    createdAt: new Date(),
  };
};

/**
 * The projections' side of erasure: a `UserErased` empties what the user wrote, at its place in
 * the log, so the read models come out the same however the log is cut into batches, and the
 * same as a rebuild made after the key is gone.
 */
describe('redaction of an erased user in the read models', () => {
  let db: TestDatabase;
  let pool: Pool;
  let log: RecordedEvent[];

  const message = (seqno: number, from: string, to: string, content: string) =>
    recorded(`conversation-${[from, to].sort().join('~')}`, MESSAGE_SENT, {
      senderUid: from,
      receiverType: 1,
      receiverId: to,
      msgType: 1,
      content,
      atUids: null,
      msgSource: 0,
      newFaceVersion: 0,
      devId: randomUUID(),
      conversationId: [from, to].sort().join('~'),
      seqno,
      msgKey: String(1000 + seqno),
      sentAtUs: 1_800_000_000_000_000 + seqno,
    } satisfies MessageSentData);
  const group = (type: string, data: Record<string, unknown>) =>
    recorded('group-club', type, { groupId: 'club', atUs: 1_800_000_000_000_000, ...data });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 4);
    const ring = testKeyRing(pool);
    const seal = (uid: string, words: string) =>
      ring.encryptFor(uid, JSON.stringify({ content: words }));
    log = [
      message(1, 'alice', 'bob', await seal('alice', 'alice one')),
      message(2, 'bob', 'alice', await seal('bob', 'bob two')),
      // Written before encryption: plain text in the log
      message(3, 'alice', 'bob', JSON.stringify({ content: 'alice plain three' })),
      group(GROUP_CREATED, {
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
      }),
      group(GROUP_APPLIED, { uid: 'alice', reqMessage: 'alice asks to join' }),
      group(GROUP_APPLICATION_HANDLED, {
        uid: 'alice',
        result: 1,
        handledMsg: 'carol says welcome',
        byUid: 'carol',
      }),
      group(GROUP_MEMBERS_JOINED, {
        members: [{ uid: 'alice', roleLevel: 1 }],
        how: 'approved',
        byUid: 'carol',
      }),
      group(GROUP_MEMBERS_LEFT, {
        uids: ['alice'],
        how: 'quit',
        reason: 'alice leaves because',
        byUid: 'alice',
      }),
      recorded('user-alice', USER_ERASED, {
        uid: 'alice',
        atUs: 1_800_000_000_000_100,
      } satisfies UserErasedData),
      // After the erasure (only a plain text could be): not redacted, whatever the batching
      message(4, 'alice', 'bob', JSON.stringify({ content: 'alice plain four' })),
    ];
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const projectors = (): Projector[] => [
    new MessagesProjector(testKeyRing(pool)),
    new GroupsProjector(),
  ];

  /** Applies the log in the batches given (sizes), each in one transaction, as the runner does. */
  async function build(sizes: number[]) {
    await pool.query(
      'TRUNCATE rm_messages, rm_groups, rm_group_members, rm_group_requests, rm_group_assistant, rm_group_notices',
    );
    const ps = projectors();
    let at = 0;
    for (const size of sizes) {
      const batch = log.slice(at, at + size);
      at += size;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const p of ps) {
          const mine = batch.filter((e) => p.eventTypes.has(e.type));
          if (mine.length > 0) await p.apply(mine, client);
        }
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
    const q = async (sql: string) => (await pool.query<Record<string, unknown>>(sql)).rows;
    return {
      messages: await q(
        'SELECT msg_seqno, sender_uid, content, erased FROM rm_messages ORDER BY conversation_id, msg_seqno',
      ),
      requests: await q('SELECT uid, req_message, handled_msg FROM rm_group_requests ORDER BY uid'),
      notices: await q('SELECT seqno, op, detail FROM rm_group_notices ORDER BY owner_uid, seqno'),
    };
  }

  it('empties what she wrote before the erasure, and nothing of anyone else', async () => {
    const built = await build([log.length]);
    expect(built.messages).toEqual([
      { msg_seqno: '1', sender_uid: 'alice', content: '', erased: true },
      { msg_seqno: '2', sender_uid: 'bob', content: '{"content":"bob two"}', erased: false },
      { msg_seqno: '3', sender_uid: 'alice', content: '', erased: true },
      {
        msg_seqno: '4',
        sender_uid: 'alice',
        content: '{"content":"alice plain four"}',
        erased: false,
      },
    ]);
    expect(built.requests).toEqual([
      { uid: 'alice', req_message: '', handled_msg: 'carol says welcome' },
    ]);
    expect(built.notices).toEqual([
      { seqno: '1', op: 'applied', detail: '' },
      { seqno: '2', op: 'quit', detail: '' },
    ]);
  });

  it('comes out the same in any batching', async () => {
    const whole = await build([log.length]);
    expect(await build(log.map(() => 1))).toEqual(whole);
    expect(await build([3, 5, 2])).toEqual(whole);
    expect(await build([8, 2])).toEqual(whole);
  });

  it('comes out the same in a rebuild after her key is destroyed', async () => {
    const live = await build([log.length]);
    await testKeyRing(pool).destroyKey('alice');
    expect(await build([log.length])).toEqual(live);
    expect(await build([1, 9])).toEqual(live);
  });
});
