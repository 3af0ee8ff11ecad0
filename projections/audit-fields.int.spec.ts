import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { TOKEN_ISSUED, USER_REGISTERED } from '../src/accounts/accounts.events';
import { ADMIN_OPERATION_RECORDED } from '../src/admin/admin-actions';
import type { EventData, RecordedEvent } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import {
  GROUP_APPLICATION_HANDLED,
  GROUP_CREATED,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
} from '../src/groups/groups.events';
import { MESSAGE_RECALLED, MESSAGE_SENT } from '../src/messaging/messaging.events';
import { FOLLOWED } from '../src/relations/relations.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSIONS_REMOVED,
} from '../src/sessions/sessions.events';
import { inTransaction } from '../src/database/with-client';
import { useTestStore } from '../test/support/test-store';
import { AuditProjector } from './audit.projector';
import { seeded } from '../test/support/seeded-random';

/**
 * The audit index built two ways must be the same, row for row: by `apply` from events read into
 * this process (the live projection), and by `applyFromLog` in SQL straight from es_events (a
 * rebuild's bulk load). Over the product's own events and over data no handler writes: values of
 * the wrong kind, separators, texts past the clip (astral characters included), odd times.
 */
describe('audit index: apply and applyFromLog agree', () => {
  let pool: Pool;
  let store: PostgresEventStore;

  useTestStore((t) => ({ pool, store } = t), { perFile: true });

  const LONG = `${'x'.repeat(500)}${'😀'.repeat(30)}tail`;
  const ODD: unknown[] = [
    undefined,
    null,
    '',
    'u1',
    'u2',
    'u1',
    7,
    -1,
    0,
    1,
    3,
    1.5,
    -0.5,
    1e300,
    true,
    false,
    'a\u001fb',
    LONG,
    `${LONG}!`,
    'constructor',
    'toString',
    '1',
    'quit',
    'kicked',
    'not a code',
    'x'.repeat(65),
    [],
    ['u1', 'u2', 'u1', 5, '', null, 'a\u001fb'],
    [{ uid: 'u1' }, { uid: 'u1' }, { uid: 7 }, 'u3', null, [1], { talkerId: 'g1' }, { uid: '' }],
    [{ talkerId: 't1' }, { talkerId: 't2' }, { talkerId: 't1' }, { uid: 'u9' }],
    // Lists of one element (most acks), of every kind
    [{ talkerId: 't1' }],
    [{ talkerId: 7 }],
    [{ talkerId: '' }],
    [{ talkerId: 'a\u001fb' }],
    [{ talkerId: `${LONG}!` }],
    [{ uid: 'u1' }],
    ['u1'],
    [7],
    [''],
    ['a\u001fb'],
    [LONG],
    [null],
    [[1]],
    { uid: 'nested' },
    { uid: ['a', 'b'], stream: 'user-u1', projection: ['audit', 'audit', 3] },
  ];
  const KEYS = [
    'msgKey',
    'targetMsgKey',
    'uid',
    'tokenId',
    'targetUid',
    'talkerId',
    'acks',
    'sessions',
    'members',
    'uids',
    'toUid',
    'fromUid',
    'operation',
    'args',
    'system',
    'how',
    'result',
    'mutedUntilUs',
    'roleLevel',
    'status',
    'topTs',
    'dnd',
    'trusted',
    'outcome',
  ];
  const TYPES = [
    MESSAGE_SENT,
    MESSAGE_RECALLED,
    SESSION_ACKED,
    SESSIONS_REMOVED,
    SESSION_TOP_SET,
    SESSION_DND_SET,
    USER_REGISTERED,
    TOKEN_ISSUED,
    FOLLOWED,
    'UserErased',
    GROUP_CREATED,
    GROUP_MEMBERS_JOINED,
    GROUP_MEMBERS_LEFT,
    GROUP_APPLICATION_HANDLED,
    GROUP_OWNER_TRANSFERRED,
    GROUP_MEMBER_ROLE_SET,
    GROUP_MEMBER_MUTED,
    GROUP_STATUS_SET,
    ADMIN_OPERATION_RECORDED,
    'SomethingElse',
  ];
  const AT = [
    '2026-12-05T09:30:00.123Z',
    '2026-12-05T09:30:00Z',
    '2026-12-05T09:30:00.1Z',
    '2024-02-29T00:00:00.000Z',
    '2026-02-29T00:00:00.000Z',
    '2026-04-31T12:00:00.000Z',
    '2026-12-05T24:00:00.000Z',
    '2026-12-05T09:30:00.123456Z',
    '2026-12-05T09:30:00.123+01:00',
    '2026-12-05',
    // Each field at and past its bounds, and what is not a digit where one is due
    '0999-12-05T09:30:00Z',
    '1000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
    '2026-00-05T09:30:00Z',
    '2026-13-05T09:30:00Z',
    '2026-12-00T09:30:00Z',
    '2026-12-32T09:30:00Z',
    '2026-12-05T23:60:00Z',
    '2026-12-05T09:30:60Z',
    '2026-12-05T09:30:00.Z',
    '2026-12-05T09:30:00.1234Z',
    '2026-12-05T09:30:00.123z',
    '2026-12-05 09:30:00.123Z',
    '2026-1a-05T09:30:00Z',
    '2026-12-05T09:30:00.12Z\n',
    '2026-12-05T09:30:0٣Z',
    '+2026-12-05T09:30:00Z',
    '2100-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
    '2026-06-31T00:00:00Z',
    'yesterday',
    '',
    12345,
    null,
  ];

  function oddEvent(next: () => number): { stream: string; event: EventData; hour: number } {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
    const type = pick(TYPES);
    const shape = next();
    let data: unknown;
    if (shape < 0.05) data = pick([null, 'text', 5, true]);
    else if (shape < 0.1) data = [{ msgKey: 'k' }];
    else {
      const d: Record<string, unknown> = {};
      for (const key of KEYS) if (next() < 0.45) d[key] = pick(ODD);
      data = d;
    }
    const actor = pick<unknown>([
      { kind: 'user', id: 'alice' },
      { kind: 'admin', id: LONG },
      { kind: '', id: 7 },
      'alice',
      ['user', 'alice'],
      null,
      undefined,
    ]);
    const metadata = {
      actor,
      correlationId: pick<unknown>([randomUUID(), '', 5, LONG]),
      causationId: pick<unknown>([undefined, 'cause-1', null]),
      ip: pick<unknown>(['203.0.113.7', '', 8, undefined]),
      device: pick<unknown>(['platform:1', `${LONG}${LONG}`, undefined]),
      at: pick(AT),
    };
    const stream = pick([`conversation-${randomUUID()}`, `nodash${next()}`, `${LONG}-x`, 'a-b-c']);
    return {
      stream,
      event: {
        id: randomUUID(),
        type: next() < 0.02 ? `${LONG}Type` : type,
        data,
        metadata: metadata as unknown as EventData['metadata'],
      },
      hour: Math.floor(next() * 4),
    };
  }

  async function indexRows(): Promise<{ audit: string[]; hours: string[] }> {
    const audit = await pool.query<{ r: string }>(
      'SELECT to_jsonb(a)::text AS r FROM rm_audit a ORDER BY commit_position, prepare_position',
    );
    const hours = await pool.query<{ r: string }>(
      'SELECT to_jsonb(h)::text AS r FROM rm_audit_hours h ORDER BY hour',
    );
    return { audit: audit.rows.map((x) => x.r), hours: hours.rows.map((x) => x.r) };
  }

  it('writes the same rows and hours from 1,500 events of every type and of odd data', async () => {
    const next = seeded(20261206);
    const base = Date.UTC(2026, 11, 5, 9, 0, 0);
    for (let i = 0; i < 1500; i++) {
      const { stream, event, hour } = oddEvent(next);
      // Some imported, so that times spread over hours and carry microseconds' worth of ms.
      if (next() < 0.5) {
        const recordedAt = new Date(base + hour * 3_600_000 + Math.floor(next() * 3_600_000));
        await store.appendImported(stream, [{ ...event, recordedAt }], 'any');
      } else {
        await store.append(stream, [event], 'any');
      }
    }
    const events = await store.readAll({ limit: 10_000 });
    expect(events).toHaveLength(1500);
    const projector = new AuditProjector();

    // In this process, in batches of 7.
    for (let i = 0; i < events.length; i += 7) {
      await inTransaction(pool, (tx) => projector.apply(events.slice(i, i + 7), tx));
    }
    const live = await indexRows();
    await pool.query('TRUNCATE rm_audit, rm_audit_hours');

    // In SQL, over ranges of 11 (the first one from the start of the log).
    let after: RecordedEvent['position'] = { commit: 0n, prepare: 0n };
    for (let i = 10; ; i += 11) {
      const until: RecordedEvent['position'] = events[Math.min(i, events.length - 1)].position;
      await inTransaction(pool, (tx) => projector.applyFromLog({ after, until }, tx));
      after = until;
      if (i >= events.length - 1) break;
    }
    const fromLog = await indexRows();

    expect(fromLog.audit).toHaveLength(1500);
    for (let i = 0; i < live.audit.length; i++) {
      if (fromLog.audit[i] !== live.audit[i]) {
        throw new Error(
          `row ${i} differs\n  apply:        ${live.audit[i]}\n  applyFromLog: ${fromLog.audit[i]}`,
        );
      }
    }
    expect(fromLog.hours).toEqual(live.hours);
    // The odd data reached every branch: clipped texts, dropped separators, some subjects and
    // actions, times kept and refused.
    const rows = live.audit.map((r) => JSON.parse(r) as Record<string, unknown>);
    expect(rows.some((r) => (r.device as string | null)?.endsWith('😀'))).toBe(true);
    expect(rows.some((r) => Array.isArray(r.subjects) && (r.subjects as string[]).length > 2)).toBe(
      true,
    );
    expect(new Set(rows.map((r) => r.action)).size).toBeGreaterThan(8);
    expect(rows.some((r) => r.decided_at === null)).toBe(true);
    expect(rows.some((r) => r.decided_at !== null)).toBe(true);
    expect(live.hours.length).toBeGreaterThanOrEqual(4);
  });
});
