import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { AuditProjector } from '../../../projections/audit.projector';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import type { Actor, RecordedEvent } from '../../event-store/event-store.port';
import { inTransaction } from '../../database/with-client';
import { AuditQueryInput, parseAuditQuery } from './audit-query';
import { AuditEventView, AuditReader } from './audit-reader';

const ALICE: Actor = { kind: 'user', id: 'alice' };
const BOB: Actor = { kind: 'user', id: 'bob' };
const CAROL: Actor = { kind: 'user', id: 'carol' };
const ADMIN_KEY: Actor = { kind: 'admin', id: 'admin-key' };
const CLI_ROOT: Actor = { kind: 'admin', id: 'cli:root' };
const DAVE: Actor = { kind: 'user', id: 'dave' };

/** Builds a log with positions in order, several events sharing a commit now and then. */
class Log {
  readonly events: RecordedEvent[] = [];
  private commit = 100n;
  private prepare = 0n;
  private readonly revisions = new Map<string, number>();

  add(
    at: string,
    actor: Actor,
    stream: string,
    type: string,
    data: object,
    extra: { correlationId?: string; sameCommit?: boolean } = {},
  ): RecordedEvent {
    if (!extra.sameCommit) this.commit += 1n + BigInt(this.events.length % 3);
    this.prepare += 1n;
    const revision = this.revisions.get(stream) ?? 0;
    this.revisions.set(stream, revision + 1);
    const e: RecordedEvent = {
      id: randomUUID(),
      type,
      streamId: stream,
      revision,
      position: { commit: this.commit, prepare: this.prepare },
      data,
      metadata: {
        actor,
        correlationId: extra.correlationId ?? randomUUID(),
        ip: '192.0.2.1',
        device: 'platform:1',
        at,
      },
      createdAt: new Date(at),
    };
    this.events.push(e);
    return e;
  }
}

describe('audit reader', () => {
  let db: TestDatabase;
  let pool: Pool;
  let reader: AuditReader;
  const log = new Log();
  let recall: RecordedEvent;
  let kick: RecordedEvent;
  let boundary: RecordedEvent;
  let stepped: RecordedEvent;
  let request: RecordedEvent[];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 4);
    reader = new AuditReader(pool);

    // The day before yesterday, yesterday (2026-12-05) and today, in UTC
    const msg = (key: string) => ({ msgKey: key, content: 'e1.alice.x.y' });
    log.add('2026-12-04T23:59:59.999Z', ALICE, 'conversation-alice~bob', 'MessageSent', msg('1'));
    boundary = log.add(
      '2026-12-05T00:00:00.000Z',
      ALICE,
      'conversation-alice~bob',
      'MessageSent',
      msg('2'),
    );
    log.add('2026-12-05T08:00:00Z', BOB, 'user-bob', 'Followed', {
      uid: 'bob',
      targetUid: 'alice',
    });
    log.add('2026-12-05T09:00:00Z', ALICE, 'conversation-alice~bob', 'MessageSent', msg('3'));
    recall = log.add('2026-12-05T09:01:00Z', ALICE, 'conversation-alice~bob', 'MessageRecalled', {
      targetMsgKey: '3',
      msgKey: '4',
      system: false,
    });
    log.add('2026-12-05T10:00:00Z', ALICE, 'group-tea', 'GroupCreated', {
      groupId: 'tea',
      members: [{ uid: 'alice' }, { uid: 'bob' }, { uid: 'carol' }],
    });
    kick = log.add('2026-12-05T11:00:00Z', ALICE, 'group-tea', 'GroupMembersLeft', {
      groupId: 'tea',
      uids: ['bob'],
      how: 'kicked',
    });
    log.add('2026-12-05T12:00:00Z', CAROL, 'group-tea', 'GroupMembersLeft', {
      groupId: 'tea',
      uids: ['carol'],
      how: 'quit',
    });
    log.add('2026-12-05T13:00:00Z', ALICE, 'group-coffee', 'GroupMembersLeft', {
      groupId: 'coffee',
      uids: ['bob'],
      how: 'kicked',
    });
    // One request that wrote two events in one commit
    request = [
      log.add(
        '2026-12-05T14:00:00Z',
        ADMIN_KEY,
        'conversation-alice~bob',
        'MessageRecalled',
        {
          targetMsgKey: '2',
          msgKey: '5',
          system: true,
        },
        { correlationId: 'req-42' },
      ),
      log.add(
        '2026-12-05T14:00:00Z',
        ADMIN_KEY,
        'group-tea',
        'GroupMemberMuted',
        {
          uid: 'alice',
          mutedUntilUs: 1,
        },
        { correlationId: 'req-42', sameCommit: true },
      ),
    ];
    log.add('2026-12-06T00:00:00Z', ALICE, 'conversation-alice~bob', 'MessageSent', msg('6'));
    // A clock stepped back: recorded the day before yesterday, late in the log
    stepped = log.add('2026-12-04T12:00:00Z', DAVE, 'user-dave', 'PrivacyChanged', { uid: 'dave' });
    log.add('2026-12-06T01:00:00Z', CLI_ROOT, 'adminop-1', 'AdminOperationRecorded', {
      operation: 'rebuild',
      args: {},
      outcome: 'completed',
    });
    // Many events of a busy user, for paging
    for (let i = 0; i < 230; i++) {
      const at = new Date(Date.UTC(2026, 11, 6, 2) + i * 1000).toISOString();
      log.add(
        at,
        { kind: 'user', id: 'busy' },
        `sessions-busy`,
        i % 3 ? 'SessionAcked' : 'SessionTopSet',
        {
          ownerUid: 'busy',
          talkerId: `t${i % 7}`,
          topTs: i,
        },
        { sameCommit: i % 5 === 1 },
      );
    }
    const projector = new AuditProjector();
    await inTransaction(pool, (tx) => projector.apply(log.events, tx));
    await pool.query('ANALYZE rm_audit');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const query = async (input: AuditQueryInput) =>
    (await reader.query(parseAuditQuery(input))).events;
  const ids = (events: readonly { id?: string; event_id?: string }[]) =>
    events.map((e) => e.event_id ?? e.id);
  /** The log's events that match, newest first: what a query must return. */
  const expected = (match: (e: RecordedEvent) => boolean) =>
    ids(log.events.filter(match).reverse());
  const actorOf = (e: RecordedEvent) => `${e.metadata.actor.kind}:${e.metadata.actor.id}`;

  /** Every page of a query, following next_cursor. */
  async function allPages(input: AuditQueryInput, limit: number): Promise<AuditEventView[][]> {
    const pages: AuditEventView[][] = [];
    let cursor: string | undefined;
    do {
      const page = await reader.query(parseAuditQuery({ ...input, cursor, limit }));
      pages.push(page.events);
      cursor = page.next_cursor ?? undefined;
      expect(pages.length).toBeLessThan(1000);
    } while (cursor !== undefined);
    return pages;
  }

  it('shows an event with its position, metadata, action and subjects', async () => {
    const [found] = await query({ correlationId: 'req-42', types: ['MessageRecalled'] });
    const e = request[0];
    expect(found).toEqual({
      position: `${e.position.commit}/${e.position.prepare}`,
      event_id: e.id,
      stream_id: 'conversation-alice~bob',
      revision: 4,
      type: 'MessageRecalled',
      action: 'sys_cancel',
      actor: { kind: 'admin', id: 'admin-key' },
      ip: '192.0.2.1',
      device: 'platform:1',
      correlation_id: 'req-42',
      causation_id: null,
      recorded_at: '2026-12-05T14:00:00.000Z',
      decided_at: '2026-12-05T14:00:00.000Z',
      subjects: ['2', '5'],
    });
  });

  it('lists everything newest first with no filter', async () => {
    expect(ids(await query({ limit: 1000 }))).toEqual(expected(() => true));
  });

  it('filters by actor: one user, one administrator, or every administrator', async () => {
    expect(ids(await query({ actor: 'user:alice' }))).toEqual(
      expected((e) => actorOf(e) === 'user:alice'),
    );
    expect(ids(await query({ actor: 'admin:cli:root' }))).toEqual(
      expected((e) => actorOf(e) === 'admin:cli:root'),
    );
    expect(ids(await query({ actor: 'admin' }))).toEqual(
      expected((e) => e.metadata.actor.kind === 'admin'),
    );
    expect(await query({ actor: 'system' })).toEqual([]);
    expect(await query({ actor: 'user:nobody' })).toEqual([]);
  });

  it('filters by stream, category, type (one or several), action, correlation id and subject', async () => {
    expect(ids(await query({ stream: 'group-tea' }))).toEqual(
      expected((e) => e.streamId === 'group-tea'),
    );
    expect(ids(await query({ category: 'group' }))).toEqual(
      expected((e) => e.streamId.startsWith('group-')),
    );
    expect(ids(await query({ types: ['GroupMembersLeft'] }))).toEqual(
      expected((e) => e.type === 'GroupMembersLeft'),
    );
    expect(ids(await query({ types: ['MessageRecalled,GroupMemberMuted', 'Followed'] }))).toEqual(
      expected((e) => ['MessageRecalled', 'GroupMemberMuted', 'Followed'].includes(e.type)),
    );
    expect(ids(await query({ action: 'kicked' }))).toEqual(
      expected((e) => (e.data as { how?: string }).how === 'kicked'),
    );
    expect(ids(await query({ correlationId: 'req-42' }))).toEqual(ids([...request].reverse()));
    expect(ids(await query({ subject: 'bob' }))).toEqual(
      expected((e) => JSON.stringify(e.data).includes('"bob"') && e.streamId !== 'user-bob'),
    );
    expect(await query({ types: ['NoSuchType'] })).toEqual([]);
  });

  it('takes from as inclusive and to as exclusive', async () => {
    const at = (e: RecordedEvent) => e.createdAt.getTime();
    const from = Date.parse('2026-12-05T00:00:00Z');
    const to = Date.parse('2026-12-06T00:00:00Z');
    const day = await query({ from: '2026-12-05', to: '2026-12-06' });
    expect(ids(day)).toEqual(expected((e) => at(e) >= from && at(e) < to));
    expect(ids(day)).toContain(boundary.id);
    // An instant names the events recorded at it, to the millisecond
    expect(
      ids(await query({ from: '2026-12-05T00:00:00Z', to: '2026-12-05T00:00:00.001Z' })),
    ).toEqual([boundary.id]);
    expect(await query({ from: '2026-12-05', to: '2026-12-05' })).toEqual([]);
    expect(await query({ from: '2026-11-05', to: '2026-12-04' })).toEqual([]);
    // An event recorded out of log order is found in its own time
    expect(ids(await query({ from: '2026-12-04', to: '2026-12-05' }))).toEqual(
      expected((e) => e.createdAt.toISOString().startsWith('2026-12-04')),
    );
    expect(ids(await query({ from: '2026-12-04T12:00:00Z', to: '2026-12-04T12:00:01Z' }))).toEqual([
      stepped.id,
    ]);
    expect(ids(await query({ from: '2026-12-04T12:00:00Z', limit: 1000 }))).toEqual(
      expected((e) => at(e) >= Date.parse('2026-12-04T12:00:00Z')),
    );
    expect(
      ids(await query({ from: '2026-12-06T01:00:00+01:00', to: '2026-12-06T00:00:01Z' })),
    ).toEqual(expected((e) => at(e) === Date.parse('2026-12-06T00:00:00Z')));
  });

  it('answers "every action of user alice yesterday"', async () => {
    const events = await query({ actor: 'user:alice', from: '2026-12-05', to: '2026-12-06' });
    expect(events.map((e) => `${e.type} ${e.stream_id}`)).toEqual([
      'GroupMembersLeft group-coffee',
      'GroupMembersLeft group-tea',
      'GroupCreated group-tea',
      'MessageRecalled conversation-alice~bob',
      'MessageSent conversation-alice~bob',
      'MessageSent conversation-alice~bob',
    ]);
  });

  it('answers "who recalled message 3": the recall, its actor and its request', async () => {
    const events = await query({ types: ['MessageRecalled'], subject: '3' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: recall.id,
      actor: { kind: 'user', id: 'alice' },
      action: 'recall',
      correlation_id: recall.metadata.correlationId,
    });
    // And who took message 2 out of history: an administrator
    expect((await query({ types: ['MessageRecalled'], subject: '2' }))[0].actor).toEqual({
      kind: 'admin',
      id: 'admin-key',
    });
  });

  it('answers "every kick in group tea", leaving out those who quit and other groups', async () => {
    const events = await query({
      stream: 'group-tea',
      types: ['GroupMembersLeft'],
      action: 'kicked',
    });
    expect(ids(events)).toEqual([kick.id]);
    expect(events[0]).toMatchObject({ actor: { kind: 'user', id: 'alice' }, subjects: ['bob'] });
  });

  it.each([
    ['no filter', {}],
    ['one actor', { actor: 'user:busy' }],
    ['several types', { types: ['SessionTopSet', 'MessageSent'] }],
    ['a time range', { from: '2026-12-06T02:00:10Z', to: '2026-12-06T02:03:00Z' }],
    ['actor and subject', { actor: 'user:busy', subject: 't3' }],
  ] as [string, AuditQueryInput][])(
    'pages through %s without gaps or repeats',
    async (_name, input) => {
      const whole = ids(await query({ ...input, limit: 1000 }));
      expect(whole.length).toBeGreaterThan(10);
      for (const size of [1, 7, 100]) {
        const pages = await allPages(input, size);
        expect(pages.flat().map((e) => e.event_id)).toEqual(whole);
        // Every page but the last is full, and the last one ends with no cursor
        expect(pages.slice(0, -1).every((p) => p.length === size)).toBe(true);
      }
    },
  );

  it('keeps paging older while new events are indexed', async () => {
    // Given a first page of busy's events
    const first = await reader.query(parseAuditQuery({ actor: 'user:busy', limit: 50 }));
    // When a newer event arrives
    const later = new Log();
    const newer = later.add(
      '2026-12-07T00:00:00Z',
      { kind: 'user', id: 'busy' },
      'sessions-busy',
      'SessionAcked',
      {},
    );
    const moved: RecordedEvent = { ...newer, position: { commit: 1n << 40n, prepare: 1n << 40n } };
    await inTransaction(pool, (tx) => new AuditProjector().apply([moved], tx));
    try {
      // Then the next page carries on where the first ended
      const second = await reader.query(
        parseAuditQuery({ actor: 'user:busy', limit: 50, cursor: first.next_cursor! }),
      );
      const all = ids(await query({ actor: 'user:busy', limit: 1000 }));
      expect([...ids(first.events), ...ids(second.events)]).toEqual(all.slice(1, 101));
      expect(all[0]).toBe(moved.id);
    } finally {
      await pool.query('DELETE FROM rm_audit WHERE event_id = $1', [moved.id]);
    }
  });
});
