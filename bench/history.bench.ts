/**
 * History pages (20 messages) from a conversation of 1,000,000 messages.
 *   npm run bench:history            (ROWS=1000000 OTHER_ROWS=500000 ITER=5000 HTTP_ITER=2000)
 * Fills rm_messages directly (INSERT ... SELECT generate_series): the conversation alice~bob with
 * ROWS messages (one in 500 recalled, one in 1,000 recalled by the system, which history leaves
 * out) and OTHER_ROWS messages in 5,000 other conversations; VACUUM ANALYZE. Then times the real
 * query handler (GetHistoryHandler on a pg Pool) for the newest page, pages before a random
 * end_seqno, pages after a random begin_seqno, ITER times each, and the same pages once more over
 * HTTP against the server process (`node dist/src/main.js` on the same database), one request at
 * a time.
 */
import type { Pool } from 'pg';
import { GetHistoryHandler } from '../src/messaging/queries/get-history/get-history.handler';
import { GetHistoryQuery } from '../src/messaging/queries/get-history/get-history.query';
import { CpuMeter } from './cpu';
import { explain, random, spying, timeCalls } from './measure';
import { HttpClient, startServer } from './server';
import { benchDatabase, report } from './support';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const OTHER_ROWS = Number(process.env.OTHER_ROWS ?? 500_000);
const ITER = Number(process.env.ITER ?? 5000);
const HTTP_ITER = Number(process.env.HTTP_ITER ?? 2000);
const SIZE = 20;
const TARGET_MS = 5;

async function fill(pool: Pool): Promise<void> {
  const text = `'{"content":"message ' || g || ' of an ordinary length, with some words in it"}'`;
  await pool.query(
    `INSERT INTO rm_messages (conversation_id, msg_seqno, msg_key, sender_uid, receiver_type,
                              receiver_id, msg_type, content, msg_status, msg_source,
                              new_face_version, sent_at_us)
     SELECT 'alice~bob', g, 1000000000000 + g,
            CASE WHEN g % 2 = 1 THEN 'alice' ELSE 'bob' END, 1,
            CASE WHEN g % 2 = 1 THEN 'bob' ELSE 'alice' END, 1,
            CASE WHEN g % 500 = 0 THEN '' ELSE ${text} END,
            CASE WHEN g % 1000 = 0 THEN 2 WHEN g % 500 = 0 THEN 1 ELSE 0 END,
            7, 1, 1800000000000000 + g * 1000
       FROM generate_series(1, $1::int) g`,
    [ROWS],
  );
  const per = Math.max(1, Math.ceil(OTHER_ROWS / 5000));
  await pool.query(
    `INSERT INTO rm_messages (conversation_id, msg_seqno, msg_key, sender_uid, receiver_type,
                              receiver_id, msg_type, content, msg_source, new_face_version,
                              sent_at_us)
     SELECT 'user' || c || '~user' || (c + 1), s, 2000000000000 + g, 'user' || c, 1,
            'user' || (c + 1), 1, ${text}, 7, 1, 1800000000000000 + g * 1000
       FROM generate_series(0, $1::int - 1) g, LATERAL (SELECT g / $2::int AS c, g % $2::int + 1 AS s) x`,
    [OTHER_ROWS, per],
  );
}

async function main(): Promise<void> {
  const db = await benchDatabase(4);
  try {
    let t0 = performance.now();
    await fill(db.pool);
    await db.pool.query('VACUUM ANALYZE rm_messages');
    report(
      'fill rm_messages (generate_series), VACUUM ANALYZE',
      ROWS + OTHER_ROWS,
      performance.now() - t0,
      'rows',
    );

    const spy = spying(db.pool);
    // One-to-one history reads neither group collaborator.
    const handler = new GetHistoryHandler(spy.pool, null as never, null as never);
    const rnd = random(42);
    const page = (begin: number | null, end: number | null) =>
      handler.execute(new GetHistoryQuery('alice', 1, 'bob', SIZE, begin, end));
    const cases: [string, () => [number | null, number | null]][] = [
      ['newest page', () => [null, null]],
      ['page before a random end_seqno', () => [null, 1 + Math.floor(rnd() * ROWS)]],
      ['page after a random begin_seqno', () => [Math.floor(rnd() * ROWS), null]],
    ];
    process.stdout.write(`GetHistoryHandler, ${SIZE} messages a page, one call at a time:\n`);
    const plans: string[] = [];
    const cpu = new CpuMeter({});
    cpu.start();
    for (const [name, args] of cases) {
      await timeCalls(`  ${name}`, ITER, () => page(...args()), { warmup: 200, target: TARGET_MS });
      const { sql, params } = spy.last();
      plans.push(`${name}:\n${await explain(db.pool, sql, params)}`);
    }
    process.stdout.write(`${cpu.stop()}\n`);
    if (process.env.EXPLAIN) process.stdout.write(`\n${plans.join('\n\n')}\n\n`);

    // The same pages over HTTP, one request at a time: Express, auth, validation, logging.
    const server = await startServer(db.url);
    const client = new HttpClient(server.url, 1);
    try {
      const token = await client.token(server.adminKey, 'alice');
      const auth = { authorization: `Bearer ${token}` };
      process.stdout.write(
        `GET /api/v1/sessions/1/bob/messages?size=${SIZE}, one request at a time:\n`,
      );
      t0 = performance.now();
      for (const [name, args] of cases) {
        await timeCalls(
          `  ${name}`,
          HTTP_ITER,
          async () => {
            const [begin, end] = args();
            const q =
              begin !== null ? `&begin_seqno=${begin}` : end !== null ? `&end_seqno=${end}` : '';
            const res = await client.call(
              'GET',
              `/api/v1/sessions/1/bob/messages?size=${SIZE}${q}`,
              auth,
            );
            const body = res.json as { messages?: unknown[] };
            if (res.status !== 200 || body.messages?.length === undefined) {
              throw new Error(`history over HTTP: ${res.status} ${JSON.stringify(res.json)}`);
            }
          },
          { warmup: 200 },
        );
      }
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
