/**
 * Audit queries over 1,000,000 events.
 *   npm run bench:audit            (EVENTS=1000000 USERS=50000 ITER=300 LIVE=100000)
 * Fills rm_audit through the audit projector's own statements (AuditProjector.apply, batches of
 * 2,000 events as the projection runner hands them over), from events generated in process: as a
 * rebuild would, EVENTS - LIVE events into the table with its primary key only, then the other
 * indexes created; then the last LIVE events with every index in place, as the live projection
 * writes. The events are a month of an installation, one every ~2.6 s, positions in log order
 * with some events sharing a commit. Actors are skewed: users drawn from a Zipf distribution
 * (s = 1) over USERS, so the busiest user has ~9 % of all events and most users a handful; 0.5 %
 * administrators (the REST API's key, five CLI operators). Types: messages, recalls (some of them
 * administrators' sys-cancels), read acks, session settings, follows, blocks, tokens, group joins,
 * kicks, quits and mutes over 1,000 groups (Zipf too), admin operations. Then VACUUM ANALYZE, and
 * the real AuditReader (on a pg Pool, no HTTP) is timed one call at a time, ITER calls a case,
 * each with different parameters: by actor (first page of 100, newest first) for the busiest
 * actors and for actors drawn at random, and at a random depth by cursor; by stream; by
 * correlation id; by time range; actor and day; type and subject; several types; a kick in a
 * group. Prints p50/p99/max per case, and for each case that misses p99 < 20 ms (EXPLAIN=1: for
 * all) the plan of its slowest call, run again.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { AuditProjector } from '../projections/audit.projector';
import {
  parseAuditQuery,
  AuditQueryInput,
  encodeAuditCursor,
} from '../src/admin/audit/audit-query';
import { AuditReader } from '../src/admin/audit/audit-reader';
import { inTransaction } from '../src/database/with-client';
import type { Actor, RecordedEvent } from '../src/event-store/event-store.port';
import { CpuMeter } from './cpu';
import { explain, random, spying, timeCalls } from './measure';
import { benchDatabase, report } from './support';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const USERS = Number(process.env.USERS ?? 50_000);
const GROUPS = 1000;
const ITER = Number(process.env.ITER ?? 300);
/** The last events, applied with every index in place as the live projection does. */
const LIVE = Math.min(EVENTS, Number(process.env.LIVE ?? 100_000));
const BATCH = 2000;
const TARGET_MS = 20;
const START_MS = Date.UTC(2026, 10, 1);
const SPAN_MS = 30 * 24 * 3600 * 1000;
const STEP_MS = SPAN_MS / EVENTS;

/** Draws ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s. */
function zipf(n: number, s: number, rnd: () => number): () => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cumulative[i] = sum += 1 / Math.pow(i + 1, s);
  return () => {
    const x = rnd() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const uid = (rank: number) => `u${rank}`;
const pair = (a: string, b: string) => (a < b ? `${a}~${b}` : `${b}~${a}`);

/** The month of events, BATCH at a time, in log order. */
function* generate(): Generator<RecordedEvent[]> {
  const rnd = random(2026);
  const user = zipf(USERS, 1, rnd);
  const group = zipf(GROUPS, 1, rnd);
  const revisions = new Map<string, number>();
  const recentKeys: string[] = [];
  let commit = 5000n;
  let msgKey = 7_400_000_000_000_000n;
  let previous: { actor: Actor; correlationId: string } | null = null;
  let batch: RecordedEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    // About one event in four shares its commit (and request) with the one before it.
    const shared: boolean = previous !== null && rnd() < 0.25;
    if (!shared) commit += 1n + BigInt(Math.floor(rnd() * 3));
    const r = rnd();
    let actor: Actor;
    if (shared) actor = previous!.actor;
    else if (r < 0.004) actor = { kind: 'admin', id: 'admin-key' };
    else if (r < 0.005) actor = { kind: 'admin', id: `cli:ops${Math.floor(rnd() * 5)}` };
    else actor = { kind: 'user', id: uid(user()) };
    const me = actor.id;
    let stream: string;
    let type: string;
    let data: Record<string, unknown>;
    const t = rnd();
    if (actor.kind === 'admin' && actor.id.startsWith('cli:')) {
      stream = `adminop-${randomUUID()}`;
      type = 'AdminOperationRecorded';
      data = { operation: 'rebuild', args: {}, outcome: t < 0.9 ? 'completed' : 'failed' };
    } else if (actor.kind === 'admin') {
      if (t < 0.5 && recentKeys.length > 0) {
        const target = recentKeys[Math.floor(rnd() * recentKeys.length)];
        stream = `conversation-${pair(uid(user()), uid(user()))}`;
        type = 'MessageRecalled';
        data = { targetMsgKey: target, msgKey: String(msgKey++), system: true };
      } else {
        stream = `group-g${group()}`;
        type = 'GroupMemberMuted';
        data = { uid: uid(user()), mutedUntilUs: 1 };
      }
    } else if (t < 0.55) {
      let other = uid(user());
      if (other === me) other = uid((Number(me.slice(1)) + 1) % USERS);
      stream = `conversation-${pair(me, other)}`;
      type = 'MessageSent';
      const key = String(msgKey++);
      data = { msgKey: key, senderUid: me, receiverId: other, content: 'e1.sealed' };
      if (recentKeys.length < 10_000) recentKeys.push(key);
      else recentKeys[Math.floor(rnd() * recentKeys.length)] = key;
    } else if (t < 0.56 && recentKeys.length > 0) {
      stream = `conversation-${pair(me, uid(user()))}`;
      type = 'MessageRecalled';
      const target = recentKeys[Math.floor(rnd() * recentKeys.length)];
      data = { targetMsgKey: target, msgKey: String(msgKey++), system: false };
    } else if (t < 0.76) {
      stream = `sessions-${me}`;
      type = 'SessionAcked';
      data = { ownerUid: me, acks: [{ sessionType: 1, talkerId: uid(user()), ackSeqno: i }] };
    } else if (t < 0.8) {
      stream = `sessions-${me}`;
      type = t < 0.78 ? 'SessionTopSet' : 'SessionDndSet';
      data = { ownerUid: me, talkerId: uid(user()), topTs: i, dnd: true };
    } else if (t < 0.84) {
      stream = `user-${me}`;
      type = t < 0.82 ? 'Followed' : t < 0.83 ? 'Unfollowed' : 'Blocked';
      data = { uid: me, targetUid: uid(user()) };
    } else if (t < 0.87) {
      stream = `user-${me}`;
      type = 'TokenIssued';
      data = { uid: me, tokenId: randomUUID() };
    } else {
      stream = `group-g${group()}`;
      const g = rnd();
      type = g < 0.5 ? 'GroupMembersJoined' : g < 0.9 ? 'GroupMembersLeft' : 'GroupMemberMuted';
      data =
        type === 'GroupMembersJoined'
          ? { members: [{ uid: me }], how: 'joined' }
          : type === 'GroupMembersLeft'
            ? g < 0.7
              ? { uids: [me], how: 'quit' }
              : { uids: [uid(user())], how: 'kicked' }
            : { uid: uid(user()), mutedUntilUs: 1 };
    }
    const revision = revisions.get(stream) ?? 0;
    revisions.set(stream, revision + 1);
    const at = new Date(START_MS + Math.floor(i * STEP_MS));
    const correlationId: string = shared ? previous!.correlationId : randomUUID();
    const n = Number(me.replace(/\D/g, '') || 0);
    batch.push({
      id: randomUUID(),
      type,
      streamId: stream,
      revision,
      position: { commit, prepare: BigInt(i + 1) },
      data,
      metadata: {
        actor,
        correlationId,
        ip: `10.${n % 250}.${(n >> 8) % 250}.${n % 7}`,
        device: actor.kind === 'user' ? `platform:${1 + (n % 3)}` : undefined,
        at: new Date(at.getTime() - 3).toISOString(),
      },
      createdAt: at,
    });
    previous = { actor, correlationId };
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Fills rm_audit in two phases. As a rebuild does: the first EVENTS - LIVE events into the table
 * with its primary key only, then every other index created at once. As the live projection
 * does: the last LIVE events with every index in place, at the full size.
 */
async function fill(pool: Pool): Promise<void> {
  const projector = new AuditProjector();
  const batches = generate();
  const apply = async (events: number) => {
    let n = 0;
    const t0 = performance.now();
    while (n < events) {
      const next = batches.next();
      if (next.done) break;
      await inTransaction(pool, (tx) => projector.apply(next.value, tx));
      n += next.value.length;
      if (n % 100_000 === 0) process.stderr.write(`  ${n} events\n`);
    }
    return { n, ms: performance.now() - t0 };
  };
  const { rows: indexes } = await pool.query<{ name: string; sql: string }>(
    `SELECT indexname AS name, indexdef AS sql FROM pg_indexes
      WHERE tablename = 'rm_audit' AND indexname <> 'rm_audit_pkey'`,
  );
  for (const ix of indexes) await pool.query(`DROP INDEX ${ix.name}`);
  const bulk = await apply(EVENTS - LIVE);
  report('bulk: AuditProjector.apply, primary key only', bulk.n, bulk.ms, 'events');
  const t0 = performance.now();
  const each: string[] = [];
  for (const ix of indexes) {
    const t = performance.now();
    await pool.query(ix.sql);
    each.push(`${ix.name.replace('rm_audit_', '')} ${((performance.now() - t) / 1000).toFixed(1)}`);
  }
  process.stdout.write(
    `bulk: create the ${indexes.length} other indexes: ${((performance.now() - t0) / 1000).toFixed(1)} s (${each.join(', ')} s)\n`,
  );
  const live = await apply(LIVE);
  report('live: AuditProjector.apply, every index', live.n, live.ms, 'events');
}

async function main(): Promise<void> {
  const db = await benchDatabase(4);
  try {
    await fill(db.pool);
    const t0 = performance.now();
    await db.pool.query('VACUUM ANALYZE rm_audit');
    process.stdout.write(
      `VACUUM ANALYZE rm_audit: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    const { rows: sizes } = await db.pool.query<{ name: string; size: string }>(
      `SELECT c.relname AS name, pg_size_pretty(pg_relation_size(c.oid)) AS size
         FROM pg_class c WHERE c.relname LIKE 'rm_audit%' ORDER BY pg_relation_size(c.oid) DESC`,
    );
    process.stdout.write(`sizes: ${sizes.map((s) => `${s.name} ${s.size}`).join(', ')}\n`);

    // Parameters of each case, drawn from the data (before timing)
    const rnd = random(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
    const col = async (sql: string, params: unknown[] = []) =>
      (await db.pool.query<{ v: string }>(sql, params)).rows.map((r) => r.v);
    const { rows: top } = await db.pool.query<{ v: string; n: string }>(
      `SELECT actor_kind || ':' || actor_id AS v, count(*) AS n FROM rm_audit
        GROUP BY 1 ORDER BY count(*) DESC LIMIT $1`,
      [ITER],
    );
    const busiest = top.map((r) => r.v);
    const counts = await db.pool.query<{ v: string; n: string }>(
      `SELECT 'user:' || actor_id AS v, count(*) AS n FROM rm_audit WHERE actor_kind = 'user' GROUP BY 1`,
    );
    const actors = counts.rows.map((r) => r.v);
    const someActors = Array.from({ length: ITER }, () => pick(actors));
    const streams = await col(
      `SELECT stream_id AS v FROM rm_audit TABLESAMPLE SYSTEM (2) WHERE category = 'conversation' LIMIT $1`,
      [ITER],
    );
    const correlations = await col(
      `SELECT correlation_id AS v FROM rm_audit TABLESAMPLE SYSTEM (2) LIMIT $1`,
      [ITER],
    );
    const recalled = await col(
      `SELECT subjects[1] AS v FROM rm_audit WHERE type = 'MessageRecalled' ORDER BY random() LIMIT $1`,
      [ITER],
    );
    const groups = await col(
      `SELECT DISTINCT stream_id AS v FROM rm_audit WHERE category = 'group' LIMIT $1`,
      [ITER],
    );
    // Cursors at a random depth of a busy actor's events
    const deep: AuditQueryInput[] = [];
    for (let i = 0; i < ITER; i++) {
      const actor = busiest[i % 20];
      const depth = Math.floor(rnd() * Math.min(Number(top[i % 20].n), 5000));
      const [kind, id] = [actor.slice(0, actor.indexOf(':')), actor.slice(actor.indexOf(':') + 1)];
      const { rows } = await db.pool.query<{ c: string; p: string }>(
        `SELECT commit_position AS c, prepare_position AS p FROM rm_audit
          WHERE actor_kind = $1 AND actor_id = $2
          ORDER BY commit_position DESC, prepare_position DESC OFFSET $3 LIMIT 1`,
        [kind, id, depth],
      );
      const cursor = encodeAuditCursor({ commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) });
      deep.push({ actor, cursor });
    }
    const instant = (ms: number) => new Date(ms).toISOString();
    const hour = () => {
      const start = START_MS + Math.floor(rnd() * (SPAN_MS - 3600_000));
      return { from: instant(start), to: instant(start + 3600_000) };
    };
    const day = () => {
      const d = Math.floor(rnd() * 29);
      return {
        from: instant(START_MS + d * 86_400_000),
        to: instant(START_MS + (d + 1) * 86_400_000),
      };
    };

    const spy = spying(db.pool);
    const reader = new AuditReader(spy.pool);
    // The slowest call of the case running, to show its plan when the case misses the target.
    let slowest = { ms: 0, sql: '', params: [] as unknown[] };
    const run = (input: (i: number) => AuditQueryInput) => async (i: number) => {
      const t0 = performance.now();
      await reader.query(parseAuditQuery(input(Math.max(i, 0))));
      const ms = performance.now() - t0;
      if (i >= 0 && ms > slowest.ms) slowest = { ms, ...spy.last() };
    };
    const cases: [string, (i: number) => Promise<unknown>][] = [
      [
        `actor, busiest ${ITER} actors, first page of 100`,
        run((i) => ({ actor: busiest[i % busiest.length] })),
      ],
      [
        `actor, ${ITER} actors at random, first page`,
        run((i) => ({ actor: someActors[i % ITER] })),
      ],
      ['actor, busy actor, page at a random depth', run((i) => deep[i % deep.length])],
      [
        'actor + one day ("U yesterday"), busiest',
        run((i) => ({ actor: busiest[i % 50], ...day() })),
      ],
      [
        'actor + one day, actors at random',
        run((i) => ({ actor: someActors[i % ITER], ...day() })),
      ],
      ['stream (conversation), first page', run((i) => ({ stream: streams[i % streams.length] }))],
      ['correlation id', run((i) => ({ correlationId: correlations[i % correlations.length] }))],
      ['time range, one hour at random', run(() => hour())],
      ['time range, one day at random', run(() => day())],
      [
        'type + subject ("who recalled K")',
        run((i) => ({ types: ['MessageRecalled'], subject: recalled[i % recalled.length] })),
      ],
      [
        'several types, first page',
        run(() => ({ types: ['MessageRecalled', 'GroupMembersLeft', 'Blocked'] })),
      ],
      [
        'kicks in a group (stream + type + action)',
        run((i) => ({
          stream: groups[i % groups.length],
          types: ['GroupMembersLeft'],
          action: 'kicked',
        })),
      ],
      ['every administrator (actor=admin)', run(() => ({ actor: 'admin' }))],
    ];
    const { rows: total } = await db.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM rm_audit',
    );
    process.stdout.write(
      `${total[0].n} audit rows; ${ITER} calls a case, one at a time, 100 a page:\n`,
    );
    const plans: string[] = [];
    const cpu = new CpuMeter({});
    cpu.start();
    for (const [name, call] of cases) {
      slowest = { ms: 0, sql: '', params: [] };
      const l = await timeCalls(`  ${name}`, ITER, call, { warmup: 20, target: TARGET_MS });
      if (process.env.EXPLAIN || l.p99 >= TARGET_MS) {
        const plan = await explain(db.pool, slowest.sql, slowest.params);
        plans.push(`${name}, its slowest call (${slowest.ms.toFixed(1)} ms), again:\n${plan}`);
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
