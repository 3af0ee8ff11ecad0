import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { TOKEN_ISSUED, USER_REGISTERED } from '../src/accounts/accounts.events';
import { ADMIN_OPERATION_RECORDED, recordAdminOperation } from '../src/admin/admin-actions';
import type { EventData, EventMetadata, RecordedEvent } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import {
  GROUP_CREATED,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBERS_LEFT,
  GroupCreatedData,
  GroupMemberMutedData,
  GroupMembersLeftData,
} from '../src/groups/groups.events';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
} from '../src/messaging/messaging.events';
import {
  FOLLOWED,
  PROFILE_UPDATED,
  ProfileUpdatedData,
  RelationChangedData,
} from '../src/relations/relations.events';
import { SESSION_ACKED, SessionAckedData } from '../src/sessions/sessions.events';
import { useTestStore } from '../test/support/test-store';
import { auditAction, auditHour, AuditProjector, auditSubjects } from './audit.projector';
import { EVERY_EVENT_TYPE } from './projection-runner';

const SECRET = 'the secret words of alice';
const NAME = 'Alice Liddell';

const user = (id: string, extra: Partial<EventMetadata> = {}): EventMetadata => ({
  actor: { kind: 'user', id },
  correlationId: randomUUID(),
  ip: '203.0.113.7',
  device: 'platform:1',
  at: '2026-12-05T09:30:00.123Z',
  ...extra,
});
const ADMIN: EventMetadata = {
  actor: { kind: 'admin', id: 'admin-key' },
  correlationId: 'req-admin-1',
  ip: '198.51.100.1',
  at: '2026-12-05T10:00:00.000Z',
};

const event = <T>(type: string, data: T, metadata: EventMetadata): EventData<T> => ({
  id: randomUUID(),
  type,
  data,
  metadata,
});

describe('audit projector', () => {
  let pool: Pool;
  let store: PostgresEventStore;

  useTestStore((t) => ({ pool, store } = t));

  async function project(batches: readonly (readonly RecordedEvent[])[]): Promise<void> {
    const projector = new AuditProjector();
    for (const batch of batches) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await projector.apply(batch, client);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
  }

  const hours = async () =>
    (await pool.query<Record<string, unknown>>('SELECT * FROM rm_audit_hours ORDER BY hour')).rows;
  const rows = async () =>
    (
      await pool.query<Record<string, unknown>>(
        'SELECT * FROM rm_audit ORDER BY commit_position, prepare_position',
      )
    ).rows;

  /** A day of a small installation: what every kind of actor does. */
  async function writeTheLog(): Promise<RecordedEvent[]> {
    const sent: MessageSentData = {
      conversationId: 'alice~bob',
      seqno: 1,
      msgKey: '7400000000000000001',
      sentAtUs: 1_800_000_000_000_000,
      senderUid: 'alice',
      receiverType: 1,
      receiverId: 'bob',
      msgType: 1,
      // Events written before encryption hold plain text: the audit must not copy it either way.
      content: JSON.stringify({ content: SECRET }),
      atUids: null,
      msgSource: 0,
      newFaceVersion: 0,
      devId: randomUUID(),
    };
    const recalled: MessageRecalledData = {
      conversationId: 'alice~bob',
      senderUid: 'alice',
      receiverType: 1,
      receiverId: 'bob',
      targetMsgKey: sent.msgKey,
      targetSeqno: 1,
      system: false,
      seqno: 2,
      msgKey: '7400000000000000002',
      sentAtUs: 1_800_000_000_100_000,
      devId: randomUUID(),
      msgSource: 0,
    };
    const aliceSends = user('alice', { correlationId: 'req-send-1', device: 'phone-1' });
    await store.append(
      'user-alice',
      [
        event(USER_REGISTERED, { uid: 'alice', platform: 1 }, aliceSends),
        event(
          TOKEN_ISSUED,
          { uid: 'alice', platform: 1, tokenId: 'jti-1', expiresAt: '2027-01-01T00:00:00Z' },
          aliceSends,
        ),
      ],
      'no_stream',
    );
    await store.append(
      'conversation-alice~bob',
      [event(MESSAGE_SENT, sent, aliceSends)],
      'no_stream',
    );
    await store.append(
      'conversation-alice~bob',
      [event(MESSAGE_RECALLED, recalled, user('alice', { causationId: 'cause-1' }))],
      0,
    );
    const follow: RelationChangedData = {
      uid: 'bob',
      targetUid: 'alice',
      oplogSeqno: 1,
      atUs: 1_800_000_000_200_000,
    };
    const profile: ProfileUpdatedData = {
      uid: 'bob',
      name: NAME,
      face: 'https://example.com/face.png',
      officialType: 0,
      systemMsgType: 0,
      atUs: 1,
    };
    await store.append(
      'user-bob',
      [event(FOLLOWED, follow, user('bob')), event(PROFILE_UPDATED, profile, ADMIN)],
      'no_stream',
    );
    const created: GroupCreatedData = {
      groupId: 'tea',
      name: 'tea time',
      faceUrl: '',
      introduction: SECRET,
      notification: '',
      ex: '',
      groupType: 0,
      temporary: true,
      joinPolicy: 'open',
      ownerUid: 'alice',
      creatorUid: 'alice',
      members: [
        { uid: 'alice', roleLevel: 2 },
        { uid: 'bob', roleLevel: 1 },
        { uid: 'carol', roleLevel: 1 },
      ],
      atUs: 1,
    };
    const kicked: GroupMembersLeftData = {
      groupId: 'tea',
      uids: ['bob', 'carol'],
      how: 'kicked',
      reason: SECRET,
      byUid: 'alice',
      atUs: 2,
    };
    const muted: GroupMemberMutedData = {
      groupId: 'tea',
      uid: 'bob',
      mutedUntilUs: 3,
      byUid: null,
      atUs: 3,
    };
    await store.append(
      'group-tea',
      [
        event(GROUP_CREATED, created, user('alice')),
        event(GROUP_MEMBERS_LEFT, kicked, user('alice')),
        event(GROUP_MEMBER_MUTED, muted, ADMIN),
      ],
      'no_stream',
    );
    const acked: SessionAckedData = {
      ownerUid: 'bob',
      acks: [
        { sessionType: 1, talkerId: 'alice', ackSeqno: 2 },
        { sessionType: 2, talkerId: 'tea', ackSeqno: 1 },
      ],
      atUs: 4,
    };
    await store.append('sessions-bob', [event(SESSION_ACKED, acked, user('bob'))], 'any');
    // A type the audit knows nothing of, and an administrator's CLI operation
    await store.append(
      'future-1',
      [
        event(
          'SomethingNew',
          { note: SECRET },
          { actor: { kind: 'system', id: 'x' }, correlationId: 'c' },
        ),
      ],
      'no_stream',
    );
    await recordAdminOperation(
      store,
      { actor: { kind: 'admin', id: 'cli:root' }, correlationId: 'run-1', device: 'admin-cli' },
      { operation: 'erase-user', args: { uid: 'carol' }, outcome: 'completed' },
    );
    return store.readAll({ limit: 100 });
  }

  it('reads every event type', () => {
    expect(new AuditProjector().eventTypes.has(EVERY_EVENT_TYPE)).toBe(true);
  });

  it('indexes each event once with who, from where, when and what about', async () => {
    // Given a log of messages, a recall, a follow, a profile, a group kick and admin actions
    const log = await writeTheLog();

    // When projected
    await project([log]);

    // Then there is one row per event, in log order, with its metadata
    const all = await rows();
    expect(all).toHaveLength(log.length);
    expect(all.map((r) => r.event_id)).toEqual(log.map((e) => e.id));
    const byType = (type: string) => all.filter((r) => r.type === type);
    const [sent] = byType(MESSAGE_SENT);
    const original = log.find((e) => e.type === MESSAGE_SENT)!;
    expect(sent).toEqual({
      event_id: original.id,
      commit_position: original.position.commit.toString(),
      prepare_position: original.position.prepare.toString(),
      stream_id: 'conversation-alice~bob',
      category: 'conversation',
      revision: '0',
      type: MESSAGE_SENT,
      action: null,
      actor_kind: 'user',
      actor_id: 'alice',
      ip: '203.0.113.7',
      device: 'phone-1',
      correlation_id: 'req-send-1',
      causation_id: null,
      recorded_at: original.createdAt,
      decided_at: new Date('2026-12-05T09:30:00.123Z'),
      subjects: ['7400000000000000001'],
    });
    // And each type names what it is about
    expect(byType(MESSAGE_RECALLED)[0]).toMatchObject({
      action: 'recall',
      subjects: ['7400000000000000001', '7400000000000000002'],
      causation_id: 'cause-1',
      revision: '1',
    });
    expect(byType(TOKEN_ISSUED)[0].subjects).toEqual(['alice', 'jti-1']);
    expect(byType(FOLLOWED)[0]).toMatchObject({ actor_id: 'bob', subjects: ['alice'] });
    expect(byType(PROFILE_UPDATED)[0]).toMatchObject({
      actor_kind: 'admin',
      actor_id: 'admin-key',
      subjects: ['bob'],
    });
    expect(byType(GROUP_CREATED)[0]).toMatchObject({
      category: 'group',
      subjects: ['alice', 'bob', 'carol'],
    });
    expect(byType(GROUP_MEMBERS_LEFT)[0]).toMatchObject({
      stream_id: 'group-tea',
      actor_id: 'alice',
      action: 'kicked',
      subjects: ['bob', 'carol'],
    });
    expect(byType(GROUP_MEMBER_MUTED)[0]).toMatchObject({
      actor_kind: 'admin',
      action: 'muted',
      subjects: ['bob'],
    });
    expect(byType(SESSION_ACKED)[0].subjects).toEqual(['alice', 'tea']);
    expect(byType('SomethingNew')[0]).toMatchObject({
      category: 'future',
      actor_kind: 'system',
      subjects: [],
      ip: null,
      decided_at: null,
    });
    expect(byType(ADMIN_OPERATION_RECORDED)[0]).toMatchObject({
      category: 'adminop',
      actor_kind: 'admin',
      actor_id: 'cli:root',
      device: 'admin-cli',
      action: 'completed',
      subjects: ['erase-user', 'carol'],
    });
  });

  it('holds no content: message text, names, reasons and notes stay out', async () => {
    await project([await writeTheLog()]);
    const { rows: found } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM rm_audit a
        WHERE a::text ILIKE '%secret%' OR a::text ILIKE '%liddell%' OR a::text ILIKE '%tea time%'`,
    );
    expect(Number(found[0].n)).toBe(0);
  });

  it('gives the same rows whatever the batch cuts, and ignores a batch applied again', async () => {
    // Given the log projected in one batch
    const log = await writeTheLog();
    await project([log]);
    const once = await rows();
    const onceHours = await hours();

    // When it is projected again, whole and in overlapping pieces (a retried batch)
    await project([log, log.slice(0, 3), log.slice(2, 7), log.slice(5)]);

    // Then nothing changed
    expect(await rows()).toEqual(once);
    expect(await hours()).toEqual(onceHours);
    // And projected from scratch in other cuts, the hours are the same
    await pool.query('TRUNCATE rm_audit, rm_audit_hours');
    await project(log.map((e) => [e]));
    expect(await hours()).toEqual(onceHours);
  });

  it('keeps where each hour of events lies in the log, whatever the order of their times', async () => {
    // Given events whose recorded times are not in log order (a clock stepped back an hour)
    const base = Date.UTC(2026, 11, 5, 9);
    const at = [base + 10, base + 3_600_000 + 5, base + 20, base + 7_200_000, base + 30];
    const events: RecordedEvent[] = at.map((ms, i) => ({
      id: randomUUID(),
      type: 'SomethingNew',
      data: {},
      metadata: { actor: { kind: 'system', id: 'clock' }, correlationId: 'c' },
      streamId: 'clock-1',
      revision: i,
      position: { commit: 100n + BigInt(i), prepare: BigInt(i) },
      createdAt: new Date(ms),
    }));

    // When projected in two batches
    await project([events.slice(0, 2), events.slice(2)]);

    // Then each hour spans from its first to its last event in the log
    const hour = auditHour(base);
    expect(await hours()).toEqual([
      {
        hour: String(hour),
        first_commit: '100',
        first_prepare: '0',
        last_commit: '104',
        last_prepare: '4',
      },
      {
        hour: String(hour + 1),
        first_commit: '101',
        first_prepare: '1',
        last_commit: '101',
        last_prepare: '1',
      },
      {
        hour: String(hour + 2),
        first_commit: '103',
        first_prepare: '3',
        last_commit: '103',
        last_prepare: '3',
      },
    ]);
  });

  it('keeps ids only as subjects, and short codes only as actions', () => {
    expect(auditSubjects(MESSAGE_SENT, null)).toEqual([]);
    expect(auditSubjects(MESSAGE_SENT, { msgKey: 5 })).toEqual([]);
    expect(auditSubjects(GROUP_MEMBERS_LEFT, { uids: ['a', 'a', 7, 'b'] })).toEqual(['a', 'b']);
    expect(auditSubjects('Unknown', { uid: 'x' })).toEqual([]);
    expect(auditAction(GROUP_MEMBERS_LEFT, { how: 'quit' })).toBe('quit');
    expect(auditAction(GROUP_MEMBERS_LEFT, { how: 'not a code' })).toBeNull();
    expect(auditAction(MESSAGE_RECALLED, { system: true })).toBe('sys_cancel');
    expect(auditAction(MESSAGE_SENT, {})).toBeNull();
  });
});
