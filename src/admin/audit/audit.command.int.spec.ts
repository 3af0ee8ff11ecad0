import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { AuditProjector } from '../../../projections/audit.projector';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import { inTransaction } from '../../database/with-client';
import type { Actor, RecordedEvent } from '../../event-store/event-store.port';
import { runAdmin } from '../admin.cli';
import { AdminContext, EXIT } from '../admin-context';
import type { AuditPage } from './audit-reader';

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `npm run admin -- <args>` in process. */
async function admin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const context: AdminContext = {
    env,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    signal: new AbortController().signal,
    exitCode: 0,
  };
  const status = await runAdmin(args, context);
  return { status, stdout, stderr };
}

let position = 1000n;
function recorded(
  actor: Actor,
  streamId: string,
  revision: number,
  type: string,
  data: object,
  at: string,
): RecordedEvent {
  position += 1n;
  return {
    id: randomUUID(),
    type,
    streamId,
    revision,
    position: { commit: position, prepare: position },
    data,
    metadata: {
      actor,
      correlationId: `req-${position}`,
      ip: '203.0.113.9',
      device: 'phone-1',
      at,
    },
    createdAt: new Date(at),
  };
}

describe('npm run admin -- audit', () => {
  let db: TestDatabase;
  let pool: Pool;
  let events: RecordedEvent[];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 2);
    const alice: Actor = { kind: 'user', id: 'alice' };
    events = [
      recorded(
        alice,
        'conversation-alice~bob',
        0,
        'MessageSent',
        { msgKey: '11' },
        '2026-12-05T09:00:00.000Z',
      ),
      recorded(
        alice,
        'conversation-alice~bob',
        1,
        'MessageRecalled',
        { targetMsgKey: '11', msgKey: '12', system: false },
        '2026-12-05T09:01:00.000Z',
      ),
      recorded(
        alice,
        'group-tea',
        3,
        'GroupMembersLeft',
        { uids: ['bob', 'carol', 'dan', 'eve'], how: 'kicked' },
        '2026-12-05T10:00:00.000Z',
      ),
      recorded(
        { kind: 'admin', id: 'admin-key' },
        'conversation-alice~bob',
        2,
        'MessageRecalled',
        { targetMsgKey: '11', msgKey: '13', system: true },
        '2026-12-06T08:00:00.000Z',
      ),
    ];
    await inTransaction(pool, (tx) => new AuditProjector().apply(events, tx));
    await pool.query(
      `INSERT INTO projection_checkpoints (name, commit_position, prepare_position)
       VALUES ('audit', $1, $1)`,
      [position.toString()],
    );
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const audit = (...args: string[]) => admin(['audit', '--database-url', db.url, ...args]);

  it('prints a table of who did what, newest first', async () => {
    const run = await audit('--actor', 'user:alice');

    expect(run.status).toBe(EXIT.ok);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^TIME \(UTC\)\s+ACTOR\s+TYPE\s+STREAM@REVISION\s+SUBJECTS\s+IP\/DEVICE$/,
    );
    expect(lines.slice(1, 4).map((l) => l.split(/\s{2,}/))).toEqual([
      [
        '2026-12-05 10:00:00.000',
        'user:alice',
        'GroupMembersLeft (kicked)',
        'group-tea@3',
        'bob,carol,dan +1',
        '203.0.113.9 phone-1',
      ],
      [
        '2026-12-05 09:01:00.000',
        'user:alice',
        'MessageRecalled (recall)',
        'conversation-alice~bob@1',
        '11,12',
        '203.0.113.9 phone-1',
      ],
      [
        '2026-12-05 09:00:00.000',
        'user:alice',
        'MessageSent',
        'conversation-alice~bob@0',
        '11',
        '203.0.113.9 phone-1',
      ],
    ]);
    expect(lines[4]).toBe('3 event(s); no more');
    expect(run.stderr).toBe('');
  });

  it('prints the same page as the REST API with --json, and pages by --cursor', async () => {
    // When asked for the recalls of message 11, one at a time
    const first = await audit(
      '--type',
      'MessageRecalled',
      '--subject',
      '11',
      '--limit',
      '1',
      '--json',
    );
    expect(first.status).toBe(EXIT.ok);
    const page = JSON.parse(first.stdout) as AuditPage;
    // Then the newest comes first: an administrator's sys-cancel
    expect(page.events).toEqual([
      {
        position: `${events[3].position.commit}/${events[3].position.prepare}`,
        event_id: events[3].id,
        stream_id: 'conversation-alice~bob',
        revision: 2,
        type: 'MessageRecalled',
        action: 'sys_cancel',
        actor: { kind: 'admin', id: 'admin-key' },
        ip: '203.0.113.9',
        device: 'phone-1',
        correlation_id: events[3].metadata.correlationId,
        causation_id: null,
        recorded_at: '2026-12-06T08:00:00.000Z',
        decided_at: '2026-12-06T08:00:00.000Z',
        subjects: ['11', '13'],
      },
    ]);
    expect(page.next_cursor).toEqual(expect.any(String));
    // And the next page holds alice's own recall, and is the last
    const second = await audit(
      '--type',
      'MessageRecalled',
      '--subject',
      '11',
      '--limit',
      '1',
      '--json',
      '--cursor',
      page.next_cursor!,
    );
    const next = JSON.parse(second.stdout) as AuditPage;
    expect(next.events.map((e) => e.event_id)).toEqual([events[1].id]);
    expect(next.next_cursor).toBeNull();
  });

  it('takes several --type options, a time range and a correlation id', async () => {
    const run = await audit(
      '--type',
      'MessageSent',
      '--type',
      'GroupMembersLeft',
      '--since',
      '2026-12-05T09:30:00Z',
      '--until',
      '2026-12-06',
      '--json',
    );
    expect((JSON.parse(run.stdout) as AuditPage).events.map((e) => e.event_id)).toEqual([
      events[2].id,
    ]);
    const one = await audit('--correlation-id', events[0].metadata.correlationId, '--json');
    expect((JSON.parse(one.stdout) as AuditPage).events.map((e) => e.event_id)).toEqual([
      events[0].id,
    ]);
    const none = await audit('--stream', 'group-nothing');
    expect(none).toMatchObject({ status: EXIT.ok, stdout: 'no events\n' });
  });

  it.each([
    [['--since', 'yesterday'], '--since must be an ISO-8601 date'],
    [['--since', '2026-12-06', '--until', '2026-12-05'], '--since must not be after --until'],
    [['--actor', 'robot:r2'], '--actor must be <kind> or <kind>:<id>'],
    [['--cursor', 'not-a-cursor'], '--cursor: pass back next_cursor'],
    [['--limit', '0'], "option '--limit <n>' argument '0' is invalid"],
    [['--limit', '1001'], 'expected an integer from 1 to 1000'],
    [['--colour'], "unknown option '--colour'"],
  ])('exits 2 on %j, saying why', async (args, message) => {
    const run = await audit(...args);
    expect(run.status).toBe(EXIT.usage);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  it('exits 1 when the database cannot be read', async () => {
    const run = await admin(['audit', '--database-url', 'postgres://nobody@127.0.0.1:1/none']);
    expect(run.status).toBe(EXIT.failed);
    expect(run.stderr).toMatch(/^error: /);
  });

  it('notes when the audit index has not been built yet', async () => {
    const fresh = await createTestDatabase();
    try {
      const run = await admin(['audit', '--database-url', fresh.url]);
      expect(run).toMatchObject({ status: EXIT.ok, stdout: 'no events\n' });
      expect(run.stderr).toContain('note: the audit index has not been built yet');
    } finally {
      await fresh.drop();
    }
  });

  it('lists the command and its options in --help', async () => {
    const run = await admin(['audit', '--help']);
    expect(run.status).toBe(EXIT.ok);
    expect(run.stdout).toContain('Usage: npm run admin -- audit [options]');
    for (const option of [
      '--actor',
      '--stream',
      '--category',
      '--type',
      '--action',
      '--since',
      '--until',
      '--correlation-id',
      '--subject',
      '--limit',
      '--cursor',
      '--json',
    ]) {
      expect(run.stdout).toContain(option);
    }
  });
});
