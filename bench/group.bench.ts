/**
 * Large groups end to end: the server as its own process (`node dist/src/main.js`, built by
 * `nest build`, projections in-process, default log level) on the bench's PostgreSQL, like
 * bench:realtime, with the per-sender send limits and the per-socket event rate raised (the figures
 * are the server's, not the limits'). The group issue's targets (2-core machine): a group of 10,000
 * members with 1,000 of them connected accepts at least 1,000 group messages/s; p99 from a send to
 * the online members' `message` under 100 ms; a member-list page under 10 ms at 10,000 members;
 * joining or leaving costs the same in a group of 10,000 as in one of 10.
 * Phases, each printed with its figures:
 *   1 setup      MEMBERS users (`POST /inner/get_token`, TOKEN_CONCURRENCY at a time), the group
 *                created by the administrator (open, normal), members added 1,000 per call;
 *                then every projection at the head of the log;
 *   2 members    `GET /api/v1/groups/:id/members` through all members with size 100 and 500, one
 *                request at a time, as the owner: a warm pass, then timed passes until at least
 *                PAGE_SAMPLES pages (timed at the client: includes HTTP, auth, the read check,
 *                validation and logging);
 *   3 join/quit  a group of 10 and the big group (both open), CYCLES join + quit cycles each by
 *                fresh users, one request at a time with SETTLE_MS after each, the two groups in
 *                turns (each first every other cycle; after WARMUP untimed cycles each): mean and
 *                p99 of join and of quit per group (timed at the client: the answer comes once the
 *                event is appended, before the projections apply it), the server's CPU per
 *                request and pause (so with the follower's and projections' work), the ratios;
 *   4 throughput SENDERS members (evenly spread over CLIENT_PROCESSES child processes) keep WINDOW
 *                socket `send`s (with ack) outstanding each for PHASE_SECONDS: acks with code 0
 *                per second, and the deliveries (`message`) the clients receive per second;
 *                4a with only the senders connected (the send path, almost no fan-out), then
 *                4b with CONNECTED members connected: every message goes to every connected
 *                member but its sender, so deliveries = messages x (CONNECTED - 1) is the real
 *                load; disconnects (`disconnect_reason` 42901: slow consumer) are counted;
 *   5 latency    open loop: RATE msgs/s (a comma-separated list) emitted at fixed intervals round
 *                the SENDERS for PHASE_SECONDS, not waiting for acks, CONNECTED members
 *                connected; latency from the emit to each connected member's `message`, over all
 *                deliveries. A rate above 100/s that phase 4b did not reach is skipped
 *                (FORCE_RATES=1 runs it anyway).
 * Every message's content carries its phase and the wall-clock time of its emit
 * (performance.timeOrigin + performance.now(), one machine, so one clock for every process);
 * latencies are binned (0.1 ms up to 100 ms, 1 ms up to 10 s) and the percentiles are the bin's
 * upper edge. After phases 4 and 5 each client process waits (bounded) until its connected clients
 * have every acknowledged message, and the run says how many arrived of those expected. Clients
 * dropped in a phase are reconnected before the next one. CPU per party (bench/cpu.ts) and the
 * server's VmRSS are printed along the way.
 *   npm run bench:group   (MEMBERS=10000 CONNECTED=1000 SENDERS=20 WINDOW=8 RATE=20,100,1000
 *                          PHASE_SECONDS=10 CLIENT_PROCESSES=2 CYCLES=200 WARMUP=10
 *                          PAGE_SAMPLES=300)
 *   PROF=1, LOG_LEVEL     passed to the server (bench/server.ts); PGSS=1 statements per message
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';
import { io, Socket } from 'socket.io-client';
import { CpuMeter } from './cpu';
import { Latency, latency, printLatency } from './measure';
import { forkTs, inPool, Peer, rssKb, serveParent } from './peer';
import { BenchServer, HttpClient, startServer } from './server';
import { benchDatabase, printStatementStats, report, resetStatementStats } from './support';

const MEMBERS = Number(process.env.MEMBERS ?? 10_000);
const CONNECTED = Math.min(MEMBERS, Number(process.env.CONNECTED ?? 1000));
const SENDERS = Math.min(CONNECTED, Number(process.env.SENDERS ?? 20));
const WINDOW = Number(process.env.WINDOW ?? 8);
const RATES = (process.env.RATE ?? '20,100,1000').split(',').map(Number);
/** Open-loop rates up to this always run; higher ones only when phase 4b accepted as many. */
const ALWAYS_RATE = 100;
const PHASE_MS = Number(process.env.PHASE_SECONDS ?? 10) * 1000;
const CLIENT_PROCESSES = Math.max(1, Number(process.env.CLIENT_PROCESSES ?? 2));
const CYCLES = Number(process.env.CYCLES ?? 200);
const WARMUP = Number(process.env.WARMUP ?? 10);
const FORCE_RATES = Boolean(process.env.FORCE_RATES);
const TOKEN_CONCURRENCY = 32;
/** Pause after each join or quit, so its follow-on work is not timed with the next request. */
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 20);
/** Member pages timed per page size at least (whole passes through the list). */
const PAGE_SAMPLES = Number(process.env.PAGE_SAMPLES ?? 300);
/** Users one add-members call may name (MAX_UIDS_PER_REQUEST). */
const ADD_BATCH = 1000;
const SMALL_GROUP = 10;
/** Sockets a client process opens at once while connecting. */
const CONNECT_CONCURRENCY = 50;
/** Longest a phase waits for its outstanding acks, and then for its deliveries. */
const DRAIN_MS = 60_000;
/** A drain gives up once no delivery has arrived for this long. */
const QUIET_MS = 5_000;
const TARGET_ACCEPTED = 1000;
const TARGET_P99_MS = 100;
const TARGET_PAGE_MS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock ms with sub-ms resolution, comparable across the processes of this machine. */
const wall = () => performance.timeOrigin + performance.now();
const out = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// --- latency histograms (client processes fill them, the bench merges them) ------------------

/** Bins: 0.1 ms below 100 ms, 1 ms below 10 s, 100 ms up to 110 s (the last bin holds the rest). */
const BINS = 1000 + 9900 + 1000;

function binOf(ms: number): number {
  if (!(ms > 0)) return 0;
  if (ms < 100) return Math.floor(ms * 10);
  if (ms < 10_000) return 1000 + Math.floor(ms - 100);
  return Math.min(BINS - 1, 10_900 + Math.floor((ms - 10_000) / 100));
}

function upperEdge(bin: number): number {
  if (bin < 1000) return (bin + 1) / 10;
  if (bin < 10_900) return bin - 1000 + 101;
  return 10_000 + (bin - 10_900 + 1) * 100;
}

interface Hist {
  counts: number[];
  n: number;
  max: number;
  min: number;
}

class Histogram {
  private readonly counts = new Uint32Array(BINS);
  n = 0;
  max = 0;
  min = Infinity;

  add(ms: number): void {
    this.counts[binOf(ms)] += 1;
    this.n += 1;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  toJSON(): Hist {
    return { counts: Array.from(this.counts), n: this.n, max: this.max, min: this.min };
  }
}

function mergeHists(hs: readonly Hist[]): Hist {
  const counts = new Array<number>(BINS).fill(0);
  for (const h of hs) h.counts.forEach((c, i) => (counts[i] += c));
  return {
    counts,
    n: hs.reduce((a, h) => a + h.n, 0),
    max: Math.max(0, ...hs.map((h) => h.max)),
    min: Math.min(Infinity, ...hs.map((h) => h.min)),
  };
}

/** Nearest-rank percentiles of a histogram: each the upper edge of its bin (at most the max). */
function histLatency(h: Hist): Latency {
  const at = (p: number) => {
    if (h.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * h.n));
    let seen = 0;
    for (let i = 0; i < BINS; i++) {
      seen += h.counts[i];
      if (seen >= rank) return Math.min(upperEdge(i), h.max);
    }
    return h.max;
  };
  return { n: h.n, p50: at(50), p95: at(95), p99: at(99), max: h.n ? h.max : NaN };
}

// --- the client processes -------------------------------------------------------------------

interface ClientSpec {
  readonly uid: string;
  readonly token: string;
  readonly sender: boolean;
}

type Command =
  | { cmd: 'connect'; url: string; clients: ClientSpec[] }
  | { cmd: 'reconnect' }
  | {
      cmd: 'run';
      mode: 'closed' | 'open';
      phase: number;
      groupId: string;
      startAt: number;
      ms: number;
      window: number;
      /** Open loop: sends/s this process emits. */
      rate: number;
    }
  | { cmd: 'drain'; ackedTotal: number }
  | { cmd: 'close' };

interface RunResult {
  readonly sent: number;
  readonly acked: number;
  readonly ackedInPhase: number;
  readonly ackedPerSecond: number[];
  readonly failures: Record<string, number>;
  /** Sends whose ack never came: their socket dropped, or DRAIN_MS passed. */
  readonly lostAcks: number;
  /** Sends not made because the sender's socket was down. */
  readonly skipped: number;
  readonly ackHist: Hist;
  /** How far behind its schedule the open loop emitted a send at worst, ms. */
  readonly maxLate: number;
}

interface DrainResult {
  /** Deliveries of the phase's messages, drained or not. */
  readonly delivered: number;
  /** Deliveries received while the phase ran, per second of it. */
  readonly perSecond: number[];
  readonly inPhase: number;
  /** What the clients connected at the end should have received: every acked message but their own. */
  readonly expected: number;
  readonly receivedOfExpected: number;
  readonly hist: Hist;
  readonly drainMs: number;
  /** `message`s of another phase, or not ours. */
  readonly strays: number;
  /** `disconnect_reason` codes received in the phase, and plain disconnects. */
  readonly reasons: Record<string, number>;
  readonly disconnects: number;
  readonly connectedNow: number;
  readonly sessionUpdates: number;
}

interface Client {
  readonly spec: ClientSpec;
  socket: Socket;
  outstanding: number;
  /** This phase: sends acknowledged with code 0; `message`s received. */
  acked: number;
  received: number;
  /** Stayed connected through this phase. */
  whole: boolean;
}

const CONTENT = /#(\d+)\/([\d.]+)/;

/** The client side: one process holding its share of the sockets, driven over IPC. */
function clientProcess(): void {
  let url = '';
  let clients: Client[] = [];
  let rx: {
    phase: number;
    t0: number;
    end: number;
    perSecond: number[];
    inPhase: number;
    delivered: number;
    hist: Histogram;
  } | null = null;
  let strays = 0;
  let reasons: Record<string, number> = {};
  let disconnects = 0;
  let sessionUpdates = 0;
  // Per run:
  let sent = 0;
  let acked = 0;
  let ackedInPhase = 0;
  let ackedPerSecond: number[] = [];
  let failures: Record<string, number> = {};
  let lostAcks = 0;
  let skipped = 0;
  let ackHist = new Histogram();

  const onMessage = (c: Client) => (data: { content?: unknown }) => {
    const now = wall();
    const m = typeof data?.content === 'string' ? CONTENT.exec(data.content) : null;
    if (!m || !rx || Number(m[1]) !== rx.phase) {
      strays += 1;
      return;
    }
    c.received += 1;
    rx.delivered += 1;
    rx.hist.add(now - Number(m[2]));
    if (now >= rx.t0 && now < rx.end) {
      rx.inPhase += 1;
      const s = Math.floor((now - rx.t0) / 1000);
      rx.perSecond[s] = (rx.perSecond[s] ?? 0) + 1;
    }
  };

  /** Opens a socket for `c` (a first one, or after a drop) and resolves once it is connected. */
  const connectClient = (c: Client) =>
    new Promise<void>((resolve, reject) => {
      // forceNew: one connection per client (io() would otherwise share one Manager per url).
      const socket = io(url, {
        auth: { token: c.spec.token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      c.socket = socket;
      c.outstanding = 0;
      socket.on('message', onMessage(c));
      socket.on('session_updated', () => (sessionUpdates += 1));
      socket.on('disconnect_reason', (r: { code?: number }) => {
        const code = String(r?.code ?? '?');
        reasons[code] = (reasons[code] ?? 0) + 1;
      });
      socket.on('disconnect', () => {
        if (c.socket !== socket) return;
        disconnects += 1;
        c.whole = false;
        // Acks of a dropped connection never come.
        lostAcks += c.outstanding;
        c.outstanding = 0;
      });
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => reject(new Error(`${c.spec.uid}: ${err.message}`)));
    });

  const open = async (spec: ClientSpec): Promise<Client> => {
    const c: Client = {
      spec,
      socket: null as unknown as Socket,
      outstanding: 0,
      acked: 0,
      received: 0,
      whole: true,
    };
    await connectClient(c);
    return c;
  };

  const send = (c: Client, groupId: string, phase: number, then?: () => void) => {
    if (!c.socket.connected) {
      skipped += 1;
      return false;
    }
    const at = wall();
    sent += 1;
    c.outstanding += 1;
    const socket = c.socket;
    socket.emit(
      'send',
      {
        receiver_id: groupId,
        receiver_type: 2,
        msg_type: 1,
        content: JSON.stringify({ content: `#${phase}/${at.toFixed(3)}` }),
        dev_id: randomUUID(),
      },
      (reply: { code: number }) => {
        // An ack after a reconnect belongs to a socket given up already.
        if (socket !== c.socket || !socket.connected) return;
        c.outstanding -= 1;
        const now = wall();
        if (reply.code === 0) {
          acked += 1;
          c.acked += 1;
          ackHist.add(now - at);
          if (rx && now >= rx.t0 && now < rx.end) {
            ackedInPhase += 1;
            const s = Math.floor((now - rx.t0) / 1000);
            ackedPerSecond[s] = (ackedPerSecond[s] ?? 0) + 1;
          }
        } else {
          failures[reply.code] = (failures[reply.code] ?? 0) + 1;
        }
        then?.();
      },
    );
    return true;
  };

  const waitAcks = async () => {
    const deadline = performance.now() + DRAIN_MS;
    while (clients.some((c) => c.outstanding > 0) && performance.now() < deadline) await sleep(5);
  };

  const handle = async (command: Command): Promise<unknown> => {
    switch (command.cmd) {
      case 'connect': {
        // Adds to the clients held (the senders connect first, the other members after).
        url = command.url;
        for (let i = 0; i < command.clients.length; i += CONNECT_CONCURRENCY) {
          const chunk = command.clients.slice(i, i + CONNECT_CONCURRENCY);
          clients.push(...(await Promise.all(chunk.map(open))));
        }
        return command.clients.length;
      }
      case 'reconnect': {
        let n = 0;
        for (const c of clients) {
          if (c.socket.connected) continue;
          c.socket.close();
          await connectClient(c);
          n += 1;
        }
        return n;
      }
      case 'run': {
        sent = acked = ackedInPhase = lostAcks = skipped = 0;
        ackedPerSecond = [];
        failures = {};
        reasons = {};
        disconnects = 0;
        strays = 0;
        sessionUpdates = 0;
        ackHist = new Histogram();
        for (const c of clients) {
          c.acked = 0;
          c.received = 0;
          c.whole = c.socket.connected;
        }
        const t0 = command.startAt;
        const end = t0 + command.ms;
        rx = {
          phase: command.phase,
          t0,
          end,
          perSecond: [],
          inPhase: 0,
          delivered: 0,
          hist: new Histogram(),
        };
        await sleep(Math.max(0, t0 - wall()));
        const senders = clients.filter((c) => c.spec.sender);
        let maxLate = 0;
        if (command.mode === 'closed') {
          const pump = (c: Client) => {
            while (c.outstanding < command.window && wall() < end) {
              if (!send(c, command.groupId, command.phase, () => pump(c))) break;
            }
          };
          senders.forEach(pump);
          await sleep(Math.max(0, end - wall()));
        } else if (senders.length > 0 && command.rate > 0) {
          // Send k is due at t0 + k / rate, from sender k mod n; each tick emits what is due.
          const total = Math.floor((command.rate * command.ms) / 1000);
          let k = 0;
          await new Promise<void>((resolve) => {
            const tick = () => {
              const now = wall();
              for (; k < total && t0 + (k * 1000) / command.rate <= now; k++) {
                maxLate = Math.max(maxLate, now - (t0 + (k * 1000) / command.rate));
                send(senders[k % senders.length], command.groupId, command.phase);
              }
              if (k < total) setTimeout(tick, 1);
              else resolve();
            };
            tick();
          });
          await sleep(Math.max(0, end - wall()));
        } else {
          await sleep(Math.max(0, end - wall()));
        }
        await waitAcks();
        const result: RunResult = {
          sent,
          acked,
          ackedInPhase,
          ackedPerSecond,
          failures,
          lostAcks: lostAcks + clients.reduce((a, c) => a + c.outstanding, 0),
          skipped,
          ackHist: ackHist.toJSON(),
          maxLate,
        };
        return result;
      }
      case 'drain': {
        const r = rx!;
        const t = performance.now();
        const want = () =>
          clients
            .filter((c) => c.whole && c.socket.connected)
            .reduce((a, c) => a + Math.max(0, command.ackedTotal - c.acked), 0);
        const have = () =>
          clients
            .filter((c) => c.whole && c.socket.connected)
            .reduce((a, c) => a + Math.min(c.received, command.ackedTotal - c.acked), 0);
        let lastCount = -1;
        let lastChange = performance.now();
        while (performance.now() - t < DRAIN_MS) {
          if (have() >= want()) break;
          if (r.delivered !== lastCount) {
            lastCount = r.delivered;
            lastChange = performance.now();
          } else if (performance.now() - lastChange > QUIET_MS) break;
          await sleep(10);
        }
        const result: DrainResult = {
          delivered: r.delivered,
          perSecond: r.perSecond,
          inPhase: r.inPhase,
          expected: want(),
          receivedOfExpected: have(),
          hist: r.hist.toJSON(),
          drainMs: performance.now() - t,
          strays,
          reasons,
          disconnects,
          connectedNow: clients.filter((c) => c.socket.connected).length,
          sessionUpdates,
        };
        rx = null;
        return result;
      }
      case 'close': {
        for (const c of clients) c.socket.close();
        clients = [];
        return 0;
      }
    }
  };

  serveParent(handle);
}

// --- the bench ------------------------------------------------------------------------------

/** CPU time (user + kernel) of a process so far, ms. */
function cpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Every projection's checkpoint at the newest event of the log: ms waited (bounded). */
async function projectionsAtHead(pool: Pool, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const { rows } = await pool.query<{ behind: string }>(
      `SELECT count(*) AS behind FROM projection_checkpoints c
        WHERE (c.commit_position, c.prepare_position) <
              (SELECT transaction_id::text::bigint, global_position FROM es_events
                ORDER BY transaction_id DESC, global_position DESC LIMIT 1)`,
    );
    if (rows[0].behind === '0') return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error('projections not at the head in time');
    await sleep(10);
  }
}

function sumRecords(rs: readonly Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const r of rs) for (const [k, n] of Object.entries(r)) total[k] = (total[k] ?? 0) + n;
  return total;
}

function sumSeconds(rs: readonly number[][]): number[] {
  const total: number[] = [];
  for (const r of rs) r.forEach((n, s) => (total[s] = (total[s] ?? 0) + (n ?? 0)));
  return Array.from(total, (n) => n ?? 0);
}

const records = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, n]) => `${n} x ${k}`)
    .join(', ') || 'none';

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

interface PhaseFigures {
  readonly run: RunResult;
  readonly drain: DrainResult;
  readonly ackedTotal: number;
}

async function main(): Promise<void> {
  const db = await benchDatabase(4);
  let server: BenchServer | null = null;
  const peers: Peer<Command>[] = [];
  let http: HttpClient | null = null;
  let stopping: Promise<void> | null = null;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const p of peers) if (p.child.exitCode === null) p.child.kill('SIGTERM');
      http?.close();
      await server?.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the clients, the server and the database\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  const summary: string[] = [];
  try {
    const joinUsers = CYCLES + WARMUP;
    server = await startServer(db.url, {
      SEND_RATE_PER_SECOND: '100000',
      SEND_RATE_BURST: '100000',
      SEND_DAILY_CAP: '100000000',
      REALTIME_EVENT_RATE_PER_SECOND: '100000',
      REALTIME_EVENT_BURST: '100000',
      GROUP_MAX_MEMBERS: String(Math.max(20_000, MEMBERS + joinUsers + 100)),
    });
    const serverPid = server.child.pid!;
    const adminKey = server.adminKey;
    http = new HttpClient(server.url, TOKEN_CONCURRENCY);
    const admin = { 'x-admin-key': adminKey };
    const must = async (
      what: string,
      method: string,
      path: string,
      headers: Record<string, string>,
      body?: unknown,
    ) => {
      const res = await http!.call(method, path, headers, body);
      if (res.status !== 200 && res.status !== 201) {
        throw new Error(`${what}: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
      }
      return res.json as Record<string, unknown>;
    };
    out(
      `group bench: MEMBERS=${MEMBERS} CONNECTED=${CONNECTED} SENDERS=${SENDERS} WINDOW=${WINDOW} ` +
        `RATE=${RATES.join(',')} PHASE_SECONDS=${PHASE_MS / 1000} CLIENT_PROCESSES=${CLIENT_PROCESSES} ` +
        `CYCLES=${CYCLES}; server VmRSS at start ${(rssKb(serverPid) / 1024).toFixed(1)} MiB`,
    );

    // --- 1. setup ---
    out('\n== 1. setup ==');
    const members = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
    const tokens: string[] = new Array(MEMBERS);
    let cpu = new CpuMeter({ server: serverPid });
    cpu.start();
    let t = performance.now();
    await inPool(members, TOKEN_CONCURRENCY, async (uid, i) => {
      tokens[i] = await http!.token(adminKey, uid);
    });
    report(
      `register ${MEMBERS} users (get_token, ${TOKEN_CONCURRENCY} at a time)`,
      MEMBERS,
      performance.now() - t,
      'users',
    );
    const small = Array.from({ length: SMALL_GROUP }, (_, i) => `s${i}`);
    const joinersSmall = Array.from({ length: joinUsers }, (_, i) => `ja${i}`);
    const joinersBig = Array.from({ length: joinUsers }, (_, i) => `jb${i}`);
    const joinerTokens = new Map<string, string>();
    await inPool([...small, ...joinersSmall, ...joinersBig], TOKEN_CONCURRENCY, async (uid) => {
      joinerTokens.set(uid, await http!.token(adminKey, uid));
    });
    const ownerToken = tokens[0];

    t = performance.now();
    const created = await must('create group', 'POST', '/admin/v1/groups', admin, {
      owner_uid: members[0],
      name: 'bench big group',
      join_policy: 'open',
      temporary: false,
    });
    const groupId = String(created.group_id);
    const createMs = performance.now() - t;
    t = performance.now();
    let added = 0;
    const addMs: number[] = [];
    for (let i = 1; i < MEMBERS; i += ADD_BATCH) {
      const uids = members.slice(i, i + ADD_BATCH);
      const a = performance.now();
      const res = await must('add members', 'POST', `/admin/v1/groups/${groupId}/members`, admin, {
        uids,
      });
      addMs.push(performance.now() - a);
      const failed = res.failed as string[];
      if (failed.length > 0)
        throw new Error(`add members: ${failed.length} failed (${failed[0]}…)`);
      added += (res.success as string[]).length;
    }
    const addAllMs = performance.now() - t;
    const lagMs = await projectionsAtHead(db.pool);
    out(
      `create the group (admin, open): ${createMs.toFixed(1)} ms; add ${added} members in ` +
        `${addMs.length} calls of up to ${ADD_BATCH}: ${(addAllMs / 1000).toFixed(2)} s ` +
        `(per call p50 ${latency(addMs).p50.toFixed(0)} ms, max ${latency(addMs).max.toFixed(0)} ms); ` +
        `projections at the head ${lagMs.toFixed(0)} ms later`,
    );
    const smallCreated = await must('create small group', 'POST', '/admin/v1/groups', admin, {
      owner_uid: small[0],
      name: 'bench small group',
      join_policy: 'open',
      temporary: false,
    });
    const smallId = String(smallCreated.group_id);
    await must('add small members', 'POST', `/admin/v1/groups/${smallId}/members`, admin, {
      uids: small.slice(1),
    });
    await projectionsAtHead(db.pool);
    out(cpu.stop().replace(/^/gm, '  '));
    out(`  server VmRSS after setup: ${(rssKb(serverPid) / 1024).toFixed(1)} MiB`);

    // --- 2. member list ---
    out(
      `\n== 2. member list: GET /api/v1/groups/:id/members as the owner, one request at a time ==`,
    );
    out(
      `  (timed at the client over HTTP: includes HTTP, auth, the read check, validation, logging)`,
    );
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const pageThrough = async (size: number, timed: number[] | null) => {
      let cursor: number | null = 0;
      let seen = 0;
      while (cursor !== null) {
        const q: string = cursor ? `?cursor=${cursor}&size=${size}` : `?size=${size}`;
        const a = performance.now();
        const res = await must(
          'members page',
          'GET',
          `/api/v1/groups/${groupId}/members${q}`,
          auth(ownerToken),
        );
        timed?.push(performance.now() - a);
        seen += (res.members as unknown[]).length;
        cursor = res.next_cursor as number | null;
      }
      return seen;
    };
    const pages: Record<number, Latency> = {};
    cpu = new CpuMeter({ server: serverPid });
    cpu.start();
    let pageCount = 0;
    for (const size of [100, 500]) {
      await pageThrough(size, null);
      const samples: number[] = [];
      let passes = 0;
      do {
        const seen = await pageThrough(size, samples);
        if (seen !== MEMBERS) {
          throw new Error(`member pages: ${seen} members seen, ${MEMBERS} expected`);
        }
        passes += 1;
      } while (samples.length < PAGE_SAMPLES);
      pageCount += samples.length;
      pages[size] = latency(samples);
      printLatency(
        `  size ${size}: ${passes} passes of ${samples.length / passes} pages`,
        pages[size],
        TARGET_PAGE_MS,
      );
    }
    out(cpu.stop(pageCount).replace(/^/gm, '  ').replace('per message', 'per page'));

    // --- 3. join / quit ---
    out(
      `\n== 3. join + quit: ${CYCLES} cycles per group by fresh users, one request at a time, ` +
        `the groups in turns, each first every other cycle (${WARMUP} untimed cycles first) ==`,
    );
    const groupsBySize = [
      { name: `group of ${SMALL_GROUP}`, id: smallId, joiners: joinersSmall },
      { name: `group of ${MEMBERS}`, id: groupId, joiners: joinersBig },
    ];
    const times = groupsBySize.map(() => ({ join: [] as number[], quit: [] as number[] }));
    /** Server CPU (ms, /proc ticks of 10 ms summed) over each request and the pause after it. */
    const serverCpu = groupsBySize.map(() => ({ join: 0, quit: 0 }));
    cpu = new CpuMeter({ server: serverPid });
    cpu.start();
    const timed = async (
      g: number,
      op: 'join' | 'quit',
      keep: boolean,
      call: () => Promise<Record<string, unknown>>,
    ) => {
      const c0 = cpuMs(serverPid);
      const a = performance.now();
      const res = await call();
      const ms = performance.now() - a;
      // What the change sets off after its answer (the realtime follower, the projections) runs
      // now, not during the next request.
      await sleep(SETTLE_MS);
      if (keep) {
        times[g][op].push(ms);
        serverCpu[g][op] += cpuMs(serverPid) - c0;
      }
      return res;
    };
    for (let i = 0; i < joinUsers; i++) {
      // Which group goes first alternates, so neither always follows the other's writes.
      for (const g of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const grp = groupsBySize[g];
        const h = auth(joinerTokens.get(grp.joiners[i])!);
        const keep = i >= WARMUP;
        const j = await timed(g, 'join', keep, () =>
          must('join', 'POST', `/api/v1/groups/${grp.id}/join`, h, {}),
        );
        if (j.outcome !== 'joined') throw new Error(`join: outcome ${String(j.outcome)}`);
        const q = await timed(g, 'quit', keep, () =>
          must('quit', 'POST', `/api/v1/groups/${grp.id}/quit`, h),
        );
        if (q.outcome !== 'done') throw new Error(`quit: outcome ${String(q.outcome)}`);
      }
    }
    out(
      cpu
        .stop(4 * joinUsers)
        .replace(/^/gm, '  ')
        .replace('per message', 'per request'),
    );
    const jq = times.map((x) => ({
      join: { mean: mean(x.join), l: latency(x.join) },
      quit: { mean: mean(x.quit), l: latency(x.quit) },
    }));
    groupsBySize.forEach((grp, g) => {
      for (const op of ['join', 'quit'] as const) {
        const { mean: m, l } = jq[g][op];
        out(
          `  ${op.padEnd(4)} ${grp.name.padEnd(16)} n ${String(l.n).padStart(4)}  mean ${m.toFixed(2).padStart(6)}  ` +
            `p50 ${l.p50.toFixed(2).padStart(6)}  p99 ${l.p99.toFixed(2).padStart(6)}  max ${l.max.toFixed(2).padStart(6)} ms` +
            `  server CPU ${(serverCpu[g][op] / l.n).toFixed(2)} ms each`,
        );
      }
    });
    const ratio = (op: 'join' | 'quit', k: 'mean' | 'p99') =>
      k === 'mean' ? jq[1][op].mean / jq[0][op].mean : jq[1][op].l.p99 / jq[0][op].l.p99;
    const cpuRatio =
      (serverCpu[1].join + serverCpu[1].quit) / Math.max(1, serverCpu[0].join + serverCpu[0].quit);
    out(
      `  big / small: join mean ${ratio('join', 'mean').toFixed(2)}, p99 ${ratio('join', 'p99').toFixed(2)}; ` +
        `quit mean ${ratio('quit', 'mean').toFixed(2)}, p99 ${ratio('quit', 'p99').toFixed(2)}; server CPU per ` +
        `join + quit ${cpuRatio.toFixed(2)}`,
    );
    out(
      `  (latency: the answer, which comes once the event is appended; server CPU: /proc ticks over the ` +
        `request and the ${SETTLE_MS} ms after it, so with the follower's and the projections' work)`,
    );
    await projectionsAtHead(db.pool);

    // --- 4. throughput ---
    // Client c in process floor(c * P / CONNECTED); senders evenly spaced, so spread alike.
    const stride = Math.floor(CONNECTED / SENDERS);
    const isSender = (c: number) => c % stride === 0 && c / stride < SENDERS;
    const specs: ClientSpec[][] = Array.from({ length: CLIENT_PROCESSES }, () => []);
    for (let c = 0; c < CONNECTED; c++) {
      specs[Math.floor((c * CLIENT_PROCESSES) / CONNECTED)].push({
        uid: members[c],
        token: tokens[c],
        sender: isSender(c),
      });
    }
    for (let p = 0; p < CLIENT_PROCESSES; p++) {
      peers.push(new Peer<Command>(forkTs(__filename, ['client'])));
    }
    const all = <T>(command: (i: number) => Command) =>
      Promise.all(peers.map((p, i) => p.ask<T>(command(i))));
    const cpuOf = () =>
      new CpuMeter({
        server: serverPid,
        ...Object.fromEntries(peers.map((p, i) => [`clients ${i + 1}`, p.child.pid])),
      });
    /** CPU of the server and of all client processes from now, per delivery (a closure). */
    const cpuSpent = () => {
      const clientPids = peers.map((p) => p.child.pid!);
      const sum = () => clientPids.reduce((a, pid) => a + cpuMs(pid), 0);
      const server0 = cpuMs(serverPid);
      const clients0 = sum();
      return (deliveries: number) => {
        const us = (ms: number) => ((ms * 1000) / Math.max(1, deliveries)).toFixed(1);
        return (
          `  CPU per delivery (all of the phase's CPU over its ${fmt(deliveries)} deliveries): server ` +
          `${us(cpuMs(serverPid) - server0)} us, clients ${us(sum() - clients0)} us`
        );
      };
    };
    const connectSome = async (which: (s: ClientSpec) => boolean) => {
      const t0 = performance.now();
      const n = (
        await all<number>((i) => ({
          cmd: 'connect',
          url: server!.url,
          clients: specs[i].filter(which),
        }))
      ).reduce((x, y) => x + y, 0);
      return { n, ms: performance.now() - t0 };
    };

    let phaseNo = 0;
    let connected = 0;
    const runPhase = async (mode: 'closed' | 'open', rate: number): Promise<PhaseFigures> => {
      const reconnected = (await all<number>(() => ({ cmd: 'reconnect' }))).reduce(
        (a, b) => a + b,
        0,
      );
      if (reconnected) out(`  (${reconnected} clients dropped before reconnected)`);
      phaseNo += 1;
      const startAt = wall() + 300;
      const runs = await all<RunResult>((i) => ({
        cmd: 'run',
        mode,
        phase: phaseNo,
        groupId,
        startAt,
        ms: PHASE_MS,
        window: WINDOW,
        rate: (rate * specs[i].filter((s) => s.sender).length) / SENDERS,
      }));
      const run: RunResult = {
        sent: runs.reduce((a, r) => a + r.sent, 0),
        acked: runs.reduce((a, r) => a + r.acked, 0),
        ackedInPhase: runs.reduce((a, r) => a + r.ackedInPhase, 0),
        ackedPerSecond: sumSeconds(runs.map((r) => r.ackedPerSecond)),
        failures: sumRecords(runs.map((r) => r.failures)),
        lostAcks: runs.reduce((a, r) => a + r.lostAcks, 0),
        skipped: runs.reduce((a, r) => a + r.skipped, 0),
        ackHist: mergeHists(runs.map((r) => r.ackHist)),
        maxLate: Math.max(...runs.map((r) => r.maxLate)),
      };
      const drains = await all<DrainResult>(() => ({ cmd: 'drain', ackedTotal: run.acked }));
      const drain: DrainResult = {
        delivered: drains.reduce((a, r) => a + r.delivered, 0),
        perSecond: sumSeconds(drains.map((r) => r.perSecond)),
        inPhase: drains.reduce((a, r) => a + r.inPhase, 0),
        expected: drains.reduce((a, r) => a + r.expected, 0),
        receivedOfExpected: drains.reduce((a, r) => a + r.receivedOfExpected, 0),
        hist: mergeHists(drains.map((r) => r.hist)),
        drainMs: Math.max(...drains.map((r) => r.drainMs)),
        strays: drains.reduce((a, r) => a + r.strays, 0),
        reasons: sumRecords(drains.map((r) => r.reasons)),
        disconnects: drains.reduce((a, r) => a + r.disconnects, 0),
        connectedNow: drains.reduce((a, r) => a + r.connectedNow, 0),
        sessionUpdates: drains.reduce((a, r) => a + r.sessionUpdates, 0),
      };
      return { run, drain, ackedTotal: run.acked };
    };
    const phaseLines = (f: PhaseFigures) => {
      const { run, drain } = f;
      out(
        `  sent ${run.sent}  acked ${run.acked}  failures ${records(run.failures)}` +
          `${run.lostAcks ? `  acks never received (socket dropped, or over ${DRAIN_MS / 1000} s) ${run.lostAcks}` : ''}` +
          `${run.skipped ? `  not sent (sender down) ${run.skipped}` : ''}`,
      );
      out(
        `  deliveries of the phase's messages ${fmt(drain.delivered)}; the members connected at the end had ` +
          `${fmt(drain.receivedOfExpected)} of the ${fmt(drain.expected)} expected ` +
          `(every acked message to every connected member but its sender)` +
          `${drain.receivedOfExpected < drain.expected ? '  MISSING SOME' : ''}` +
          `, drained ${(drain.drainMs / 1000).toFixed(1)} s after the last ack`,
      );
      out(
        `  disconnects ${drain.disconnects} (disconnect_reason: ${records(drain.reasons)}); connected at the end ` +
          `${drain.connectedNow} of ${connected}; session_updated ${drain.sessionUpdates}; strays ${drain.strays}`,
      );
      if (drain.hist.min < -0.5) {
        out(
          `  WARNING: a delivery arrived ${(-drain.hist.min).toFixed(1)} ms before its send by the clock: ` +
            `the client processes' clocks disagree; latencies are off by up to that much`,
        );
      }
    };
    /** A closed-loop phase: SENDERS x WINDOW sends outstanding. */
    const throughput = async (title: string) => {
      out(`\n== ${title} ==`);
      await resetStatementStats(db.pool);
      const meter = cpuOf();
      meter.start();
      const spent = cpuSpent();
      const f = await runPhase('closed', 0);
      const cpuLine = meter.stop(f.run.acked);
      const perDelivery = spent(f.drain.delivered);
      const acceptedRate = report(
        '  accepted (acks with code 0) within the phase',
        f.run.ackedInPhase,
        PHASE_MS,
        'msgs',
      );
      out(`  accepted per 1 s: ${f.run.ackedPerSecond.map(fmt).join(' ')}`);
      const deliveryRate = report(
        '  deliveries received by the clients within the phase',
        f.drain.inPhase,
        PHASE_MS,
        'dlvs',
      );
      out(`  deliveries per 1 s: ${f.drain.perSecond.map(fmt).join(' ')}`);
      out(
        `  = ${(deliveryRate / Math.max(1, connected - 1)).toFixed(0)} messages/s fanned out to the ${connected - 1} ` +
          `other connected members (the real load: every message is a push to each of them)`,
      );
      phaseLines(f);
      printLatency('  send -> ack (saturated)', histLatency(f.run.ackHist));
      printLatency('  send -> member message (saturated)', histLatency(f.drain.hist));
      out(cpuLine.replace(/^/gm, '  '));
      out(perDelivery);
      out(`  server VmRSS ${(rssKb(serverPid) / 1024).toFixed(1)} MiB`);
      await printStatementStats(db.pool, f.run.acked);
      return { f, acceptedRate, deliveryRate };
    };

    // 4a: the send path with (almost) no fan-out: only the senders are connected.
    let c0 = await connectSome((s) => s.sender);
    connected = c0.n;
    const alone = await throughput(
      `4a. throughput, only the ${connected} senders connected: ${SENDERS} senders x ${WINDOW} socket ` +
        `sends outstanding, ${PHASE_MS / 1000} s`,
    );
    summary.push(
      `accepted with only the ${connected} senders connected: ${fmt(alone.acceptedRate)} msgs/s ` +
        `(${alone.acceptedRate >= TARGET_ACCEPTED ? 'meets' : 'MISSES'} ${fmt(TARGET_ACCEPTED)}/s)`,
    );

    // 4b: every connected member.
    const rssBefore = rssKb(serverPid) / 1024;
    c0 = await connectSome((s) => !s.sender);
    connected += c0.n;
    await sleep(1000);
    const rssAfter = rssKb(serverPid) / 1024;
    out(
      `\nconnect ${c0.n} more members (${connected} in all: ${specs.map((s) => s.length).join(' + ')} in ` +
        `${CLIENT_PROCESSES} client processes): ${(c0.ms / 1000).toFixed(2)} s; server VmRSS ` +
        `${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MiB`,
    );
    const sat = await throughput(
      `4b. throughput, ${connected} members connected: ${SENDERS} senders x ${WINDOW} socket sends ` +
        `outstanding, ${PHASE_MS / 1000} s`,
    );
    const accepted = sat.acceptedRate;
    summary.push(
      `accepted with ${connected} connected: ${fmt(accepted)} msgs/s (${accepted >= TARGET_ACCEPTED ? 'meets' : 'MISSES'} ` +
        `${fmt(TARGET_ACCEPTED)}/s), ${fmt(sat.deliveryRate)} deliveries/s, ` +
        `${sat.f.drain.reasons['42901'] ?? 0} slow-consumer disconnects`,
    );

    // --- 5. latency ---
    for (const rate of RATES) {
      out(
        `\n== 5. latency: open loop, ${rate} msgs/s offered round ${SENDERS} senders, ${connected} ` +
          `members connected, ${PHASE_MS / 1000} s ==`,
      );
      if (rate > ALWAYS_RATE && rate > accepted && !FORCE_RATES) {
        out(
          `  skipped: phase 4b accepted ${fmt(accepted)} msgs/s, below ${rate}/s offered (FORCE_RATES=1 runs it anyway)`,
        );
        summary.push(
          `open loop ${rate}/s: skipped, the machine does not keep up (phase 4b accepted ${fmt(accepted)}/s)`,
        );
        continue;
      }
      await resetStatementStats(db.pool);
      cpu = cpuOf();
      cpu.start();
      const spent = cpuSpent();
      const f = await runPhase('open', rate);
      const cpuOpen = cpu.stop(f.run.acked);
      const perDelivery = spent(f.drain.delivered);
      const l = histLatency(f.drain.hist);
      printLatency(`  send -> each connected member's message`, l, TARGET_P99_MS);
      printLatency('  send -> ack', histLatency(f.run.ackHist));
      report('  deliveries received within the phase', f.drain.inPhase, PHASE_MS, 'dlvs');
      phaseLines(f);
      out(`  the clients emitted at most ${f.run.maxLate.toFixed(1)} ms behind their schedule`);
      out(cpuOpen.replace(/^/gm, '  '));
      out(perDelivery);
      out(`  server VmRSS ${(rssKb(serverPid) / 1024).toFixed(1)} MiB`);
      await printStatementStats(db.pool, f.run.acked);
      summary.push(
        `open loop ${rate}/s: send -> member message p50 ${l.p50.toFixed(1)} p99 ${l.p99.toFixed(1)} max ` +
          `${l.max.toFixed(1)} ms (${l.p99 < TARGET_P99_MS ? 'meets' : 'MISSES'} p99 < ${TARGET_P99_MS} ms), ` +
          `${fmt(f.drain.receivedOfExpected)} of ${fmt(f.drain.expected)} deliveries`,
      );
    }
    await all(() => ({ cmd: 'close' }));

    out('\n== summary ==');
    for (const size of [100, 500]) {
      out(
        `member page size ${size}: p50 ${pages[size].p50.toFixed(2)} p99 ${pages[size].p99.toFixed(2)} ms over HTTP ` +
          `(${pages[size].p99 < TARGET_PAGE_MS ? 'meets' : 'MISSES'} < ${TARGET_PAGE_MS} ms)`,
      );
    }
    out(
      `join/quit, group of ${MEMBERS} / group of ${SMALL_GROUP}: join mean ${ratio('join', 'mean').toFixed(2)}, ` +
        `quit mean ${ratio('quit', 'mean').toFixed(2)}, server CPU per join + quit ${cpuRatio.toFixed(2)} ` +
        `(1.00 = the same cost)`,
    );
    for (const line of summary) out(line);
  } finally {
    await stopAll();
  }
}

if (process.argv[2] === 'client') {
  clientProcess();
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
