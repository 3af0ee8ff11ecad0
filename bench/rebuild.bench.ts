/**
 * Rebuild without downtime: every read model rebuilt from 1,000,000 events into shadow tables and
 * swapped in, while the API keeps serving.
 *   npm run bench:rebuild          (EVENTS=1000000 RATE=50 BATCH=2000 NICE=10 VERIFY=1)
 *
 * 1. Fills the log through the real event store with a realistic mix (EVENTS in all): users
 *    registered and issued tokens, follows, one-to-one messages (content sealed with each sender's
 *    data key, as the send path writes it) interleaved across 20,000 conversations, group
 *    messages in 200 groups of 25 (some mentioning members), acks and recalls. With
 *    BENCH_DATABASE_URL, a log filled by an earlier run is used as it is.
 * 2. Starts the server as its own process (`node dist/src/main.js`, projections on, default log
 *    level) on the bench's PostgreSQL and waits for its projections to build the live read
 *    models.
 * 3. Starts an API load from this process: RATE sends/s and 2 × RATE reads/s (session lists and
 *    history pages), open loop, over keep-alive connections, between 40 users who follow each
 *    other; measures it for 10 s alone.
 * 4. Runs `npm run admin -- rebuild --json` (dist/src/admin/admin.cli.js: shadow schema, bulk
 *    load, indexes, catch-up, swap; src/admin/replay/rebuild.ts) in a process of its own, under
 *    `nice -n NICE` as an operator would (NICE=0: not niced), while the load runs.
 * 5. Prints the rebuild's events/s, its phases, the swap's pause, the API's latency and errors
 *    during the rebuild, and CPU per party; VERIFY=1 then checks the swapped-in read models
 *    against another rebuild (src/admin/replay/verify.ts). It prints first how fast the machine
 *    is now (bench/cpu.ts, machineReference), to compare runs of different days.
 * LOAD=0: no server and no load (the rebuild alone); REBUILD=0: the load alone, no rebuild (with
 * PGSS=1 and PROF=1, where the API spends its time). PROF=1: CPU profiles of the server and
 * the rebuild's process in /tmp/prof (node --cpu-prof). LANES=n: `--lanes n`. ONLY=a,b:
 * `--projection a,b` (a part of the read models only). DEFER_INDEXES=0:
 * `--indexes-during-load`. PGSS=1 prints the costliest statements (pg_stat_statements).
 * NODE_OPTIONS reaches the rebuild's process.
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { Pool } from 'pg';
import { allProjectors } from '../projections';
import { TOKEN_ISSUED, USER_REGISTERED, userStream } from '../src/accounts/accounts.events';
import type { RebuildResult } from '../src/admin/replay/rebuild';
import type { ReplayCliResult } from '../src/admin/replay/replay-cli';
import { verify } from '../src/admin/replay/verify';
import { KeyRing } from '../src/crypto/key-ring';
import type { EventData, EventMetadata } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import {
  GROUP_CREATED,
  GROUP_MEMBERS_JOINED,
  groupConversationId,
  groupStream,
} from '../src/groups/groups.events';
import { conversationStream, privateConversationId } from '../src/messaging/domain/conversation';
import { MESSAGE_RECALLED, MESSAGE_SENT } from '../src/messaging/messaging.events';
import { FOLLOWED } from '../src/relations/relations.events';
import { SESSION_ACKED, sessionsStream } from '../src/sessions/sessions.events';
import { machineBusyMs, machineReference, procStat } from './cpu';
import { latency } from './measure';
import { HttpClient, startServer } from './server';
import { benchDatabase, report, resetStatementStats } from './support';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const RATE = Number(process.env.RATE ?? 50);
const BATCH = Number(process.env.BATCH ?? 2000);
const USERS = 10_000;
const CONVERSATIONS = 20_000;
const GROUPS = 200;
const GROUP_SIZE = 25;
const FOLLOWS_PER_USER = 5;
const LOAD_USERS = 40;

/** Fixed, so that a log filled by an earlier run (BENCH_DATABASE_URL) still opens. */
const MASTER_KEY = Buffer.alloc(32, 9);
const uid = (i: number) => `user${i}`;

let clockUs = 1_800_000_000_000_000;
let msgKey = 2_000_000_000_000n;
const meta = (actor: string): EventMetadata => ({
  actor: { kind: 'user', id: actor },
  correlationId: randomUUID(),
  ip: '10.0.0.1',
  device: 'bench',
  at: new Date().toISOString(),
});
const event = (type: string, data: unknown, actor: string): EventData => ({
  id: randomUUID(),
  type,
  data,
  metadata: meta(actor),
});

/** Appends with up to 32 appends in flight (the store commits them in groups). */
class Appender {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Events handed to the store, appended or in flight. */
  queued = 0;

  constructor(private readonly store: PostgresEventStore) {}

  async add(stream: string, events: EventData[]): Promise<void> {
    this.queued += events.length;
    const p = this.store.append(stream, events, 'any').then(() => {
      this.inFlight.delete(p);
    });
    this.inFlight.add(p);
    if (this.inFlight.size >= 32) await Promise.race(this.inFlight);
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}

/** The log: about EVENTS events of a realistic mix, interleaved as traffic would be. */
async function fill(store: PostgresEventStore, keyRing: KeyRing): Promise<void> {
  const out = new Appender(store);
  // Users: registration and a token each.
  for (let i = 0; i < USERS; i++) {
    const u = uid(i);
    await out.add(userStream(u), [
      event(USER_REGISTERED, { uid: u, platform: 1 }, u),
      event(
        TOKEN_ISSUED,
        { uid: u, platform: 1, tokenId: randomUUID(), expiresAt: '2099-01-01T00:00:00Z' },
        u,
      ),
    ]);
  }
  // Follows.
  for (let i = 0; i < USERS; i++) {
    const u = uid(i);
    const follows = Array.from({ length: FOLLOWS_PER_USER }, (_, k) =>
      event(
        FOLLOWED,
        { uid: u, targetUid: uid((i + 1 + k * 37) % USERS), oplogSeqno: k + 1, atUs: clockUs++ },
        u,
      ),
    );
    await out.add(userStream(u), follows);
  }
  // Groups with their members.
  for (let g = 0; g < GROUPS; g++) {
    const groupId = `grp${g}`;
    const owner = uid((g * 50) % USERS);
    const members = Array.from({ length: GROUP_SIZE - 1 }, (_, k) => uid((g * 50 + 1 + k) % USERS));
    await out.add(groupStream(groupId), [
      event(
        GROUP_CREATED,
        {
          groupId,
          name: `group ${g}`,
          faceUrl: '',
          introduction: '',
          notification: '',
          ex: '',
          groupType: 2,
          temporary: true,
          joinPolicy: 'open',
          ownerUid: owner,
          creatorUid: owner,
          members: [{ uid: owner, roleLevel: 2 }],
          atUs: clockUs++,
        },
        owner,
      ),
      event(
        GROUP_MEMBERS_JOINED,
        {
          groupId,
          members: members.map((m) => ({ uid: m, roleLevel: 1 })),
          how: 'invited',
          byUid: owner,
          atUs: clockUs++,
        },
        owner,
      ),
    ]);
  }
  await out.drain();

  // Traffic, in rounds: each round a few messages in every conversation and group, the
  // receivers' acks, now and then a recall; until the log holds EVENTS events.
  // Distinct conversations: two pairs of the same users would number the same seqnos twice, a
  // log the product never writes (the live projection keeps the first of each).
  const pairs = new Map<string, { a: string; b: string; seqno: number }>();
  for (let c = 0; pairs.size < CONVERSATIONS; c++) {
    const a = uid(c % USERS);
    const b0 = uid((c * 7 + 1 + Math.floor(c / USERS)) % USERS);
    const b = a === b0 ? uid((c + 1) % USERS) : b0;
    const id = privateConversationId(a, b);
    if (!pairs.has(id)) pairs.set(id, { a, b, seqno: 0 });
  }
  const groups = Array.from({ length: GROUPS }, (_, g) => ({ id: `grp${g}`, seqno: 0 }));
  const text = (n: number) =>
    JSON.stringify({ content: `message ${n} of an ordinary length, with a few more words` });
  let n = 0;
  for (let round = 0; out.queued < EVENTS; round++) {
    for (const [conversationId, p] of pairs) {
      if (out.queued >= EVENTS) break;
      const events: EventData[] = [];
      for (let k = 0; k < 2; k++) {
        const from = (round + k) % 3 === 0 ? p.b : p.a;
        const to = from === p.a ? p.b : p.a;
        p.seqno++;
        events.push(
          event(
            MESSAGE_SENT,
            {
              conversationId,
              seqno: p.seqno,
              msgKey: String(msgKey++),
              senderUid: from,
              receiverType: 1,
              receiverId: to,
              msgType: 1,
              content: await keyRing.encryptFor(from, text(n++)),
              atUids: null,
              msgSource: 7,
              newFaceVersion: 1,
              devId: randomUUID(),
              sentAtUs: clockUs++,
            },
            from,
          ),
        );
      }
      // One in 200 messages recalled by its sender.
      if (n % 200 === 0) {
        const last = events[events.length - 1].data as {
          senderUid: string;
          receiverId: string;
          msgKey: string;
          seqno: number;
        };
        p.seqno++;
        events.push(
          event(
            MESSAGE_RECALLED,
            {
              conversationId,
              senderUid: last.senderUid,
              receiverType: 1,
              receiverId: last.receiverId,
              targetMsgKey: last.msgKey,
              targetSeqno: last.seqno,
              system: false,
              seqno: p.seqno,
              msgKey: String(msgKey++),
              sentAtUs: clockUs++,
              devId: randomUUID(),
              msgSource: 7,
            },
            last.senderUid,
          ),
        );
      }
      await out.add(conversationStream(conversationId), events);
      // The receiver reads up to the end, about every other round.
      if ((round + p.seqno) % 2 === 0) {
        await out.add(sessionsStream(p.b), [
          event(
            SESSION_ACKED,
            {
              ownerUid: p.b,
              acks: [{ sessionType: 1, talkerId: p.a, ackSeqno: p.seqno }],
              atUs: clockUs++,
            },
            p.b,
          ),
        ]);
      }
    }
    for (const g of groups) {
      if (out.queued >= EVENTS) break;
      const base = Number(g.id.slice(3)) * 50;
      const events: EventData[] = [];
      for (let k = 0; k < 8; k++) {
        const from = uid((base + ((round + k) % GROUP_SIZE)) % USERS);
        g.seqno++;
        events.push(
          event(
            MESSAGE_SENT,
            {
              conversationId: groupConversationId(g.id),
              seqno: g.seqno,
              msgKey: String(msgKey++),
              senderUid: from,
              receiverType: 2,
              receiverId: g.id,
              msgType: 1,
              content: await keyRing.encryptFor(from, text(n++)),
              atUids: k === 0 ? [uid((base + 3) % USERS)] : null,
              msgSource: 7,
              newFaceVersion: 1,
              devId: randomUUID(),
              sentAtUs: clockUs++,
            },
            from,
          ),
        );
      }
      await out.add(conversationStream(groupConversationId(g.id)), events);
    }
  }
  await out.drain();
}

/** Waits until every live checkpoint has reached the head of the log. */
async function liveAtHead(pool: Pool, store: PostgresEventStore): Promise<void> {
  for (;;) {
    const head = await store.headPosition();
    const { rows } = await pool.query<{ behind: string }>(
      `SELECT count(*) AS behind FROM projection_checkpoints
        WHERE (commit_position, prepare_position) < ($1::bigint, $2::bigint)`,
      [head!.commit.toString(), head!.prepare.toString()],
    );
    const { rows: all } = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM projection_checkpoints',
    );
    if (rows[0].behind === '0' && Number(all[0].n) >= allProjectors(null as never).length) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * A keep-alive client that takes its sockets in turn (FIFO): with the default LIFO a socket can sit
 * idle past the server's keep-alive timeout (5 s) and be closed just as it is reused, an error of
 * the client's making ("socket hang up") that an open-loop load meets when latency varies.
 */
class FifoClient {
  private readonly agent: Agent;

  constructor(
    private readonly url: string,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, scheduling: 'fifo' });
  }

  call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
    return new Promise<{ status: number }>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        `${this.url}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            ...headers,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': payload.length }
              : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Open-loop API load: RATE sends/s and 2 × RATE reads/s until stopped. */
class ApiLoad {
  readonly sends: number[] = [];
  readonly reads: number[] = [];
  /** Every request: when it started (ms) and how long it took. */
  readonly timeline: [number, number][] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private readonly running: Promise<void>[] = [];
  private readonly client: FifoClient;

  constructor(
    url: string,
    private readonly tokens: string[],
  ) {
    this.client = new FifoClient(url, 64);
  }

  start(): void {
    const tick = (perSecond: number, fn: (i: number) => Promise<void>) => {
      const every = 1000 / perSecond;
      const started = performance.now();
      const pending = new Set<Promise<void>>();
      return (async () => {
        for (let i = 0; !this.stopped; i++) {
          const due = started + i * every;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const p: Promise<void> = fn(i).finally(() => pending.delete(p));
          pending.add(p);
        }
        await Promise.all(pending);
      })();
    };
    this.running.push(
      tick(RATE, (i) => this.send(i)),
      tick(2 * RATE, (i) => this.read(i)),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.client.close();
  }

  reset(): void {
    this.sends.length = 0;
    this.reads.length = 0;
    this.errors.length = 0;
    this.timeline.length = 0;
  }

  /** p99 of the requests started in each `windowMs` since `from`. */
  p99ByWindow(from: number, windowMs: number): string {
    const windows: number[][] = [];
    for (const [at, ms] of this.timeline) {
      if (at < from) continue;
      (windows[Math.floor((at - from) / windowMs)] ??= []).push(ms);
    }
    return [...windows].map((w) => (w ? Math.round(latency(w).p99) : '-')).join(' ');
  }

  private async send(i: number): Promise<void> {
    const from = i % LOAD_USERS;
    const to = (from + 1 + (i % 3)) % LOAD_USERS;
    await this.timed(this.sends, 201, 'POST', '/api/v1/messages', this.tokens[from], {
      receiver_id: `load${to}`,
      receiver_type: 1,
      msg_type: 1,
      content: JSON.stringify({ content: `load ${i}` }),
      dev_id: randomUUID(),
    });
  }

  private async read(i: number): Promise<void> {
    const who = i % LOAD_USERS;
    const path =
      i % 2 === 0
        ? '/api/v1/sessions'
        : `/api/v1/sessions/1/load${(who + 1) % LOAD_USERS}/messages?size=20`;
    await this.timed(this.reads, 200, 'GET', path, this.tokens[who]);
  }

  private async timed(
    into: number[],
    expected: number,
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<void> {
    const t0 = performance.now();
    try {
      const res = await this.client.call(method, path, { authorization: `Bearer ${token}` }, body);
      if (res.status !== expected) this.errors.push(`${method} ${path}: ${res.status}`);
    } catch (err) {
      this.errors.push(`${method} ${path}: ${(err as Error).message}`);
    }
    into.push(performance.now() - t0);
    this.timeline.push([t0, performance.now() - t0]);
  }
}

async function loadUsers(url: string, adminKey: string): Promise<string[]> {
  const http = new HttpClient(url, 8);
  try {
    const tokens: string[] = [];
    for (let i = 0; i < LOAD_USERS; i++) {
      const res = await http.call(
        'POST',
        '/inner/get_token',
        { 'x-admin-key': adminKey },
        { session: `load${i}`, platform: 1 },
      );
      tokens.push((res.json as { data: string }).data);
    }
    // Everyone follows everyone (so the one-message-before-a-reply rule never applies).
    for (let i = 0; i < LOAD_USERS; i++) {
      await Promise.all(
        Array.from({ length: LOAD_USERS }, (_, j) =>
          i === j
            ? Promise.resolve()
            : http.call('PUT', `/api/v1/relations/following/load${j}`, {
                authorization: `Bearer ${tokens[i]}`,
              }),
        ),
      );
    }
    return tokens;
  } finally {
    http.close();
  }
}

function printLatency(name: string, samples: number[]): void {
  const l = latency(samples);
  process.stdout.write(
    `${name.padEnd(52)} n ${String(l.n).padStart(6)}  p50 ${l.p50.toFixed(1).padStart(6)}  ` +
      `p99 ${l.p99.toFixed(1).padStart(7)}  max ${l.max.toFixed(1).padStart(7)} ms\n`,
  );
}

async function main(): Promise<void> {
  // Before anything else runs: the machine's speed now, to compare with runs of other days.
  const speed = await machineReference();
  process.stdout.write(
    `machine now: SHA-256 ${speed.sha256MBps.toFixed(0)} MB/s, loopback TCP round trip ` +
      `${speed.loopbackRoundTripUs.toFixed(0)} µs (bench/cpu.ts, machineReference)\n`,
  );
  const db = await benchDatabase(16);
  const store = new PostgresEventStore(db.pool);
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  let load: ApiLoad | null = null;
  try {
    let t0 = performance.now();
    const count = async () =>
      Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events')).rows[0].n);
    if ((await count()) < EVENTS) {
      await fill(store, new KeyRing(db.pool, MASTER_KEY));
      await db.pool.query('VACUUM ANALYZE es_events');
      report(
        'fill the log (realistic mix, content sealed)',
        await count(),
        performance.now() - t0,
        'events',
      );
    }
    const total = await count();
    // A previous run's swapped-in tables are vacuumed by autovacuum for a while after it: that
    // work is not this run's.
    await autovacuumDone(db.pool);

    if (process.env.LOAD !== '0') {
      // The server builds the live read models (or catches them up), then serves.
      t0 = performance.now();
      server = await startServer(db.url, {
        MASTER_KEY: MASTER_KEY.toString('base64'),
        SEND_RATE_PER_SECOND: '100000',
        SEND_RATE_BURST: '100000',
        SEND_DAILY_CAP: '10000000',
      });
      await liveAtHead(db.pool, store);
      report(
        'live projections in the server (to the head)',
        total,
        performance.now() - t0,
        'events',
      );
      const tokens = await loadUsers(server.url, server.adminKey);
      load = new ApiLoad(server.url, tokens);
      load.start();
      await new Promise((r) => setTimeout(r, 3_000));
      load.reset();
      // The same load without a rebuild, for comparison, and what it costs alone.
      await resetStatementStats(db.pool);
      const idle = new CpuSampler(await postmaster(db.pool), { server: () => server?.child.pid });
      await new Promise((r) => setTimeout(r, 10_000));
      const requests = load.sends.length + load.reads.length;
      printLatency(`API before the rebuild (10 s): sends (${RATE}/s)`, load.sends);
      printLatency(`API before the rebuild (10 s): reads (${2 * RATE}/s)`, load.reads);
      process.stdout.write(
        `API alone, ${idle.stop(requests).replace('per 1,000 events', 'per 1,000 requests')}\n`,
      );
      await printStatements(db.pool, requests, 'the API load alone', 'request');
      load.reset();
    }
    if (process.env.REBUILD === '0') return;
    await resetStatementStats(db.pool);

    // The rebuild: `npm run admin -- rebuild --json` in a process of its own (niced by NICE).
    const cli = startRebuildCli(db.url);
    const cpu = new CpuSampler(await postmaster(db.pool), {
      rebuild: () => cli.pid,
      server: () => server?.child.pid,
    });
    t0 = performance.now();
    const result = await cli.result;
    const ms = performance.now() - t0;
    const cpuLine = cpu.stop(result.eventsApplied);
    const windows = load ? load.p99ByWindow(t0, 10_000) : '';
    const sends = [...(load?.sends ?? [])];
    const reads = [...(load?.reads ?? [])];
    const errors = [...(load?.errors ?? [])];
    await load?.stop();

    report(
      `rebuild all read models (${result.projections.length} projections): load + catch-up`,
      result.eventsApplied,
      result.phasesMs.load + result.phasesMs.catchUp,
      'events',
    );
    report('rebuild, start to swapped in (indexes included)', result.eventsApplied, ms, 'events');
    process.stdout.write(
      `phases: load ${(result.phasesMs.load / 1000).toFixed(1)} s, indexes ` +
        `${(result.phasesMs.index / 1000).toFixed(1)} s (${result.indexesCreated} built after the load), ` +
        `catch-up ${(result.phasesMs.catchUp / 1000).toFixed(1)} s, swap ${result.phasesMs.swap} ms\n` +
        `swap: live projections paused ${result.swap.pausedMs} ms (applying ` +
        `${result.swap.eventsApplied} events ${result.swap.applyMs} ms, waiting for readers ` +
        `${result.swap.lockWaitMs} ms, commit ${result.swap.commitMs} ms), readers of the swapped ` +
        `tables paused at most ${result.swap.lockedMs} ms, ${result.swap.attempts} attempt(s)\n`,
    );
    if (load) {
      printLatency(`API during the rebuild: sends (${RATE}/s)`, sends);
      printLatency(`API during the rebuild: reads (${2 * RATE}/s)`, reads);
      process.stdout.write(`API p99 ms per 10 s window of the rebuild: ${windows}\n`);
      process.stdout.write(
        `API errors during the rebuild: ${errors.length}` +
          `${errors.length ? ` (${errors.slice(0, 3).join('; ')})` : ''}\n`,
      );
    }
    process.stdout.write(`${cpuLine}\n`);
    await printStatements(db.pool, result.eventsApplied, 'the rebuild (and the load)', 'event');

    if (process.env.VERIFY !== '0') {
      if (server) await liveAtHead(db.pool, store);
      t0 = performance.now();
      const check = await verify(
        { pool: db.pool, store, projectors: allProjectors(new KeyRing(db.pool, MASTER_KEY)) },
        { batchSize: BATCH },
      );
      process.stdout.write(
        `verify after the swap: ${check.equal ? 'equal' : `DIFFERENT (${check.differing.join(', ')})`}, ` +
          `${check.eventsApplied} events in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
          `live projections paused ${check.pausedMs} ms\n`,
      );
    }
  } finally {
    await load?.stop().catch(() => undefined);
    await server?.stop();
    await store.close();
    await db.close();
  }
}

/** A process's children (Linux: /proc/<pid>/task/<pid>/children), or none. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((x) => x !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU per party while the rebuild runs, sampled every 100 ms from /proc so that processes which
 * end during the run (the rebuild's process and its PostgreSQL backends) are counted up to their
 * last sample: the rebuild's process, PostgreSQL (every child of the postmaster: the rebuild's
 * backends, the server's, the background processes), the server, this process, and what is left
 * of the machine's busy time (other work on the machine).
 */
class CpuSampler {
  private readonly seen = new Map<number, { first: number; last: number; party: string }>();
  private readonly timer: NodeJS.Timeout;
  private readonly busy0 = machineBusyMs();
  private readonly self0 = process.cpuUsage();
  private readonly t0 = performance.now();
  /** The first sample: what processes had used before the run is not the run's. */
  private initial = true;

  constructor(
    private readonly postmaster: number,
    private readonly named: Record<string, () => number | undefined>,
  ) {
    this.sample();
    this.initial = false;
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): void {
    const named = new Map(
      Object.entries(this.named).flatMap(([party, pid]) => {
        const p = pid();
        return p === undefined ? [] : [[p, party] as const];
      }),
    );
    // The postmaster's children from its own list, not a scan of every process's stat: sampling
    // costs this process (and so the machine the rebuild runs on) less than 0.01 cores instead
    // of about 0.04.
    const pids = [...named.keys(), this.postmaster, ...childrenOf(this.postmaster)];
    for (const pid of pids) {
      const stat = procStat(pid);
      if (!stat) continue;
      const party =
        named.get(pid) ??
        (pid === this.postmaster || stat.ppid === this.postmaster ? 'postgres' : null);
      if (!party) continue;
      const known = this.seen.get(pid);
      if (known) known.last = stat.cpuMs;
      else
        this.seen.set(pid, {
          first: this.initial ? stat.cpuMs : 0,
          last: stat.cpuMs,
          party,
        });
    }
  }

  /** `party cores (ms per 1,000 events)` for each party, over the run. */
  stop(events: number): string {
    clearInterval(this.timer);
    this.sample();
    const wall = performance.now() - this.t0;
    const by = new Map<string, number>();
    for (const v of this.seen.values()) by.set(v.party, (by.get(v.party) ?? 0) + v.last - v.first);
    const self = process.cpuUsage(this.self0);
    by.set('bench (load generator)', (self.user + self.system) / 1000);
    const busy = machineBusyMs() - this.busy0;
    const counted = [...by.values()].reduce((a, b) => a + b, 0);
    by.set('other processes', Math.max(0, busy - counted));
    const parts = [...by].map(
      ([party, ms]) =>
        `${party} ${(ms / wall).toFixed(2)} (${((ms * 1000) / events).toFixed(1)} ms)`,
    );
    return (
      `CPU, cores used (and ms per 1,000 events): ${parts.join('  ')}  ` +
      `(machine busy ${(busy / wall).toFixed(2)})`
    );
  }
}

/** The node flags of package.json's `admin` script. */
function adminNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { admin: string } };
  const command = pkg.scripts.admin.split('&&').pop()!.trim().split(/\s+/);
  return command.slice(1, command.indexOf('dist/src/admin/admin.cli.js'));
}

/**
 * `node dist/src/admin/admin.cli.js rebuild --json` against the bench database (built by the
 * bench:rebuild script), run as an operator would: `nice -n NICE` (default 10) so that the API
 * keeps its share of the machine, and NODE_OPTIONS passed on.
 */
function startRebuildCli(databaseUrl: string): {
  pid: number | undefined;
  result: Promise<RebuildResult>;
} {
  const nice = Number(process.env.NICE ?? 10);
  const args = [
    // As `npm run admin` runs it (package.json): a larger young generation, so that the bulk
    // load's short-lived rows cost fewer scavenges.
    ...adminNodeFlags(),
    ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
    'dist/src/admin/admin.cli.js',
    'rebuild',
    '--json',
    '--batch-size',
    String(BATCH),
    ...(process.env.LANES ? ['--lanes', process.env.LANES] : []),
    ...(process.env.ONLY ? ['--projection', process.env.ONLY] : []),
    ...(process.env.DEFER_INDEXES === '0' ? ['--indexes-during-load'] : []),
  ];
  const child = spawn(
    nice > 0 ? 'nice' : process.execPath,
    nice > 0 ? ['-n', String(nice), process.execPath, ...args] : args,
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        MASTER_KEY: MASTER_KEY.toString('base64'),
        ADMIN_ACTOR: 'bench',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.stderr.isTTY) process.stderr.write(d);
  });
  const result = new Promise<RebuildResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        const out = JSON.parse(stdout) as ReplayCliResult<RebuildResult>;
        if (code === 0 && out.result) resolve(out.result);
        else reject(new Error(`rebuild exited ${code}: ${out.error?.message ?? stderr}`));
      } catch {
        reject(new Error(`rebuild exited ${code}: ${stderr}`));
      }
    });
  });
  // `nice` execs node: the pid is the rebuild's.
  return { pid: child.pid, result };
}

/** The postmaster's pid (PostgreSQL on this machine), from a backend's parent. */
async function postmaster(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return procStat(rows[0].pid)?.ppid ?? -1;
}

/** Waits (up to 5 minutes) until no autovacuum worker runs in the bench's database. */
async function autovacuumDone(pool: Pool): Promise<void> {
  for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE backend_type = 'autovacuum worker' AND datname = current_database()`,
    );
    if (rows[0].n === 0) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** With PGSS=1: the costliest statements (this database's) during `what`, per `unit`. */
async function printStatements(
  pool: Pool,
  count: number,
  what: string,
  unit: string,
): Promise<void> {
  if (!process.env.PGSS) return;
  const { rows } = await pool.query<{
    calls: string;
    total: number;
    plan: number;
    query: string;
  }>(
    `SELECT calls, total_exec_time AS total, total_plan_time AS plan,
            regexp_replace(query, '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
  );
  process.stdout.write(
    `\npg_stat_statements during ${what} (planning counted with PGSS_PLANNING=1):\n` +
      `  exec ms  plan ms  µs/${unit.padEnd(7)} calls  statement\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.total.toFixed(0).padStart(9)} ${r.plan.toFixed(0).padStart(8)} ` +
        `${(((r.total + r.plan) * 1000) / count).toFixed(2).padStart(10)} ${r.calls.padStart(6)}  ` +
        `${r.query.slice(0, 100)}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
