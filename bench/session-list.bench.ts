/**
 * Session list pages and unread counts for users with 10,000 sessions.
 *   npm run bench:session-list            (SESSIONS=10000 TOTAL=200000 ITER=1000)
 * Fills the read models directly (INSERT ... SELECT generate_series), then ANALYZE:
 * - `heavy` (no interception) and `guarded` (privacy `intercept` on) hold SESSIONS sessions each
 *   with the same talkers t00000…; every talker holds the other side of both; other users fill
 *   rm_sessions up to TOTAL rows (pairs of `o` users, both sides).
 * - Of each big list: 20 % unread, 20 pinned, 2 % do-not-disturb, 2.5 % trusted, 1 % removed
 *   (hidden); the owner follows 30 % of the talkers; 0.5 % of talkers are system accounts
 *   (a fifth of them customer service, type 8), 20 % have a plain profile.
 * - rm_messages holds each conversation's last message (msg_seqno = max_seqno).
 * - EXTRA_FOLLOWS adds that many follows among users outside the lists (a larger rm_relations).
 * Then times the real handlers one call at a time, ITER calls a case: ListSessionsHandler (with
 * SessionReader on a pg Pool) for first pages and for pages deep in the list (by cursor, and by
 * end_ts as the seed pages, at a random position), per filter; and UnreadHandler. Prints
 * p50/p99/max per case, and the plan of every case that misses p99 < 10 ms (EXPLAIN=1: of all).
 */
import type { Pool } from 'pg';
import {
  encodeCursor,
  ListSessionsOptions,
  ListSessionsQuery,
  decodeCursor,
} from '../src/sessions/queries/list-sessions/list-sessions.query';
import { ListSessionsHandler } from '../src/sessions/queries/list-sessions/list-sessions.handler';
import { UnreadHandler } from '../src/sessions/queries/unread/unread.handler';
import { UnreadQuery } from '../src/sessions/queries/unread/unread.query';
import { SessionReader } from '../src/sessions/session-reader';
import { CpuMeter } from './cpu';
import { explain, random, spying, timeCalls } from './measure';
import { benchDatabase, report } from './support';

const SESSIONS = Number(process.env.SESSIONS ?? 10_000);
const TOTAL = Number(process.env.TOTAL ?? 200_000);
const ITER = Number(process.env.ITER ?? 1000);
/** Follows among users outside the lists, to see plans over a larger rm_relations. */
const EXTRA_FOLLOWS = Number(process.env.EXTRA_FOLLOWS ?? 0);
const TARGET_MS = 10;
const BASE_US = 1_800_000_000_000_000;

/** privateConversationId in SQL: the pair sorted as JavaScript compares strings (C collation). */
const conversation = (a: string, b: string) =>
  `CASE WHEN ${a} COLLATE "C" < ${b} COLLATE "C" THEN ${a} || '~' || ${b} ELSE ${b} || '~' || ${a} END`;

async function fill(pool: Pool): Promise<void> {
  const talker = `'t' || lpad(i::text, 5, '0')`;
  // The two big lists. i spreads the attributes; session_ts is a permutation of i, so list order
  // is not talker order.
  for (const owner of ['heavy', 'guarded']) {
    await pool.query(
      `INSERT INTO rm_sessions (owner_uid, session_type, talker_id, conversation_id, max_seqno,
                                ack_seqno, ack_ts, session_ts, top_ts, is_dnd, is_trust,
                                hidden_upto_seqno)
       SELECT $1, 1, t, ${conversation('$1::text', 't')}, mx,
              CASE WHEN i % 5 = 0 THEN greatest(mx - 1 - i % 7, 0) ELSE mx END, ts,
              ts, CASE WHEN i % 500 = 7 THEN ${BASE_US} + i ELSE 0 END,
              (i % 50 = 3)::int, (i % 40 = 5)::int,
              CASE WHEN i % 100 = 11 THEN mx ELSE 0 END
         FROM generate_series(0, $2::int - 1) i,
              LATERAL (SELECT ${talker} AS t, 1 + (i * 7919) % 200 AS mx,
                              ${BASE_US} + ((i::bigint * 7919) % $2::int) * 1000000 AS ts) x`,
      [owner, SESSIONS],
    );
    // The talkers' side of the same conversations.
    await pool.query(
      `INSERT INTO rm_sessions (owner_uid, session_type, talker_id, conversation_id, max_seqno,
                                ack_seqno, session_ts)
       SELECT talker_id, 1, owner_uid, conversation_id, max_seqno, max_seqno - 1, session_ts
         FROM rm_sessions WHERE owner_uid = $1`,
      [owner],
    );
    await pool.query(
      `INSERT INTO rm_relations (owner_uid, kind, target_uid, since_us)
       SELECT $1, 1, ${talker}, ${BASE_US} FROM generate_series(0, $2::int - 1) i
        WHERE i % 10 < 3`,
      [owner, SESSIONS],
    );
  }
  await pool.query(
    `INSERT INTO rm_user_settings (uid, followed_only, intercept)
     VALUES ('heavy', false, false), ('guarded', false, true)`,
  );
  await pool.query(
    `INSERT INTO rm_profiles (uid, name, face, official_type, system_msg_type)
     SELECT ${talker}, 'talker ' || i, 'https://example.com/' || i || '.png',
            CASE WHEN i % 200 = 9 THEN 1 ELSE 0 END,
            CASE WHEN i % 1000 = 9 THEN 8 WHEN i % 200 = 9 THEN 1 ELSE 0 END
       FROM generate_series(0, $1::int - 1) i WHERE i % 200 = 9 OR i % 5 = 1`,
    [SESSIONS],
  );

  // Everyone else: `o` users in pairs (n, n+k), k = 1..10, both sides, up to TOTAL rows.
  const rest = Math.max(0, TOTAL - 4 * SESSIONS);
  const users = Math.max(22, Math.ceil(rest / 20));
  const other = (n: string) => `'o' || (${n})`;
  await pool.query(
    `INSERT INTO rm_sessions (owner_uid, session_type, talker_id, conversation_id, max_seqno,
                              ack_seqno, session_ts)
     SELECT o, 1, t, ${conversation('a', 'b')}, mx, mx - (g % 3), ts
       FROM generate_series(0, $1::int - 1) g,
            LATERAL (SELECT ${other('g / 10')} AS a, ${other('(g / 10 + g % 10 + 1) % $2::int')} AS b,
                            1 + g % 50 AS mx, ${BASE_US} + g::bigint * 1000 AS ts) x,
            LATERAL (VALUES (a, b), (b, a)) AS sides(o, t)`,
    [Math.floor(rest / 2), users],
  );
  await pool.query(
    `INSERT INTO rm_relations (owner_uid, kind, target_uid, since_us)
     SELECT ${other('n')}, 1, ${other('(n + k) % $1::int')}, ${BASE_US}
       FROM generate_series(0, $1::int - 1) n, generate_series(1, 5) k`,
    [users],
  );
  if (EXTRA_FOLLOWS > 0) {
    await pool.query(
      `INSERT INTO rm_relations (owner_uid, kind, target_uid, since_us)
       SELECT 'z' || (g / 50), 1, 'y' || g, ${BASE_US} FROM generate_series(1, $1::int) g`,
      [EXTRA_FOLLOWS],
    );
  }
  // Each conversation's last message.
  await pool.query(
    `INSERT INTO rm_messages (conversation_id, msg_seqno, msg_key, sender_uid, receiver_type,
                              receiver_id, msg_type, content, msg_source, new_face_version,
                              sent_at_us)
     SELECT DISTINCT ON (conversation_id) conversation_id, max_seqno,
            1000000000000 + row_number() OVER (), talker_id, 1, owner_uid, 1,
            '{"content":"the last message of an ordinary length, with some words in it"}', 7, 1,
            session_ts
       FROM rm_sessions ORDER BY conversation_id, owner_uid`,
  );
}

interface ListRow {
  top_ts: string;
  session_ts: string;
  session_type: number;
  talker_id: string;
}

async function main(): Promise<void> {
  const db = await benchDatabase(4);
  try {
    const t0 = performance.now();
    await fill(db.pool);
    await db.pool.query('VACUUM ANALYZE');
    const { rows: counts } = await db.pool.query<{ s: string; m: string; r: string }>(
      `SELECT (SELECT count(*) FROM rm_sessions) AS s, (SELECT count(*) FROM rm_messages) AS m,
              (SELECT count(*) FROM rm_relations) AS r`,
    );
    report(
      `fill: ${counts[0].s} sessions, ${counts[0].m} messages, ${counts[0].r} follows`,
      Number(counts[0].s) + Number(counts[0].m) + Number(counts[0].r),
      performance.now() - t0,
      'rows',
    );

    const spy = spying(db.pool);
    const lists = new ListSessionsHandler(new SessionReader(spy.pool));
    const unread = new UnreadHandler(spy.pool);
    const rnd = random(7);
    // Each owner's whole list in list order: random cursor and end_ts positions come from it.
    const order = new Map<string, ListRow[]>();
    for (const owner of ['heavy', 'guarded']) {
      const { rows } = await db.pool.query<ListRow>(
        `SELECT top_ts, session_ts, session_type, talker_id FROM rm_sessions WHERE owner_uid = $1
          ORDER BY top_ts DESC, session_ts DESC, session_type DESC, talker_id DESC`,
        [owner],
      );
      order.set(owner, rows);
    }
    const at = (owner: string) => {
      const rows = order.get(owner)!;
      return rows[Math.floor(rnd() * rows.length)];
    };
    const cursorAt = (owner: string) => {
      const r = at(owner);
      return decodeCursor(
        encodeCursor({
          topTs: Number(r.top_ts),
          sessionTs: Number(r.session_ts),
          sessionType: r.session_type,
          talkerId: r.talker_id,
        }),
      );
    };
    const endTsAt = (owner: string) => {
      const rows = order.get(owner)!.filter((r) => r.top_ts === '0');
      return Number(rows[Math.floor(rnd() * rows.length)].session_ts);
    };
    const list =
      (owner: string, o: Partial<ListSessionsOptions> & { depth?: 'cursor' | 'end_ts' }) => () => {
        const { depth, ...rest } = o;
        return lists.execute(
          new ListSessionsQuery(owner, {
            filter: 'main',
            unfollowFold: false,
            size: 20,
            cursor: depth === 'cursor' ? cursorAt(owner) : null,
            beginTs: null,
            endTs: depth === 'end_ts' ? endTsAt(owner) : null,
            ...rest,
          }),
        );
      };

    const cases: [string, () => Promise<unknown>][] = [
      ['heavy: main, first page', list('heavy', {})],
      ['heavy: main, cursor page at a random depth', list('heavy', { depth: 'cursor' })],
      ['heavy: main, end_ts page at a random depth', list('heavy', { depth: 'end_ts' })],
      ['heavy: unfollowed, first page', list('heavy', { filter: 'unfollowed' })],
      [
        'heavy: unfollowed, cursor page, random depth',
        list('heavy', { filter: 'unfollowed', depth: 'cursor' }),
      ],
      ['heavy: main + unfollow_fold, first page', list('heavy', { unfollowFold: true })],
      [
        'heavy: main + unfollow_fold, cursor, random depth',
        list('heavy', { unfollowFold: true, depth: 'cursor' }),
      ],
      ['heavy: all, first page', list('heavy', { filter: 'all' })],
      ['heavy: groups (has none), first page', list('heavy', { filter: 'groups' })],
      ['heavy: intercepted (interception off)', list('heavy', { filter: 'intercepted' })],
      ['guarded: main, first page', list('guarded', {})],
      ['guarded: main, cursor page at a random depth', list('guarded', { depth: 'cursor' })],
      ['guarded: intercepted, first page', list('guarded', { filter: 'intercepted' })],
      [
        'guarded: intercepted, cursor, random depth',
        list('guarded', { filter: 'intercepted', depth: 'cursor' }),
      ],
      ['heavy: unread counts (UnreadHandler)', () => unread.execute(new UnreadQuery('heavy', 0))],
      [
        'guarded: unread counts (UnreadHandler)',
        () => unread.execute(new UnreadQuery('guarded', 0)),
      ],
    ];
    process.stdout.write(`${SESSIONS} sessions per user, 20 a page, one call at a time:\n`);
    const plans: string[] = [];
    const cpu = new CpuMeter({});
    cpu.start();
    for (const [name, run] of cases) {
      const l = await timeCalls(`  ${name}`, ITER, run, { warmup: 50, target: TARGET_MS });
      if (process.env.EXPLAIN || l.p99 >= TARGET_MS) {
        const { sql, params } = spy.last();
        plans.push(`${name}:\n${await explain(db.pool, sql, params)}`);
      }
    }
    process.stdout.write(`${cpu.stop()}\n`);
    if (plans.length) process.stdout.write(`\n${plans.join('\n\n')}\n`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
