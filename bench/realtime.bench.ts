/**
 * Realtime delivery over Socket.IO, end to end: CLIENTS connected users in pairs, each sending to
 * its partner (`send` with an ack), each message timed until the partner's `message` arrives.
 * The same phases run against two servers, so their ratio holds on a noisy machine:
 *   bare  a bare Socket.IO relay in a child process (bench/bare-relay.ts): `send` relayed to the
 *         partner's room as `message` and acknowledged; no persistence, no auth, no rules;
 *   ours  the server as its own process (`node dist/src/main.js`, built by `nest build`,
 *         projections in-process, default log level) on the bench's PostgreSQL, like
 *         bench:http-send, with the per-sender send limits raised. Every user follows its partner
 *         first (so the one-message-before-a-reply rule, 21047, does not apply).
 * For each server:
 *   memory     VmRSS of the server process before and after the clients connect, per connection;
 *   warm-up    one acknowledged send per client (opens every conversation);
 *   saturation every client keeps WINDOW sends outstanding (unacknowledged) for PHASE_SECONDS:
 *              deliveries/s (partner's `message` received within the phase) and their latency;
 *   open loop  RATE sends/s offered at fixed intervals spread over the clients for PHASE_SECONDS,
 *              not waiting for acks: latency from `send` to the partner's `message`.
 * After each phase of ours: how long after the last ack every projection reached the head of the
 * log, and at the end whether every acknowledged send is in the log and in rm_messages.
 * The clients run in CLIENT_PROCESSES child processes (this file with the argument `client`), a
 * pair always in the same process so both ends of a message are timed on one clock.
 *   npm run bench:realtime   (CLIENTS=1000 CLIENT_PROCESSES=2 WINDOW=4 RATE=1000 PHASE_SECONDS=10)
 *   TARGETS=ours             one server only (bare, ours, or both comma-separated)
 *   PROF=1, LOG_LEVEL        passed to our server (bench/server.ts)
 *   PGSS=1                   statements per message from pg_stat_statements, per phase
 * (PHASE_SECONDS, not SECONDS: bash keeps its own SECONDS, the shell's age, in that name.)
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { io, Socket } from 'socket.io-client';
import { CpuMeter } from './cpu';
import { Latency, latency, printLatency } from './measure';
import { forkTs, inPool, Peer, rssKb, serveParent } from './peer';
import { BenchServer, HttpClient, startServer } from './server';
import { benchDatabase, printStatementStats, report, resetStatementStats } from './support';

const CLIENTS = Number(process.env.CLIENTS ?? 1000);
const CLIENT_PROCESSES = Number(process.env.CLIENT_PROCESSES ?? 2);
const WINDOW = Number(process.env.WINDOW ?? 4);
const RATE = Number(process.env.RATE ?? 1000);
const PHASE_MS = Number(process.env.PHASE_SECONDS ?? 10) * 1000;
const TARGETS = (process.env.TARGETS ?? 'bare,ours').split(',');
/** Sockets a client process opens at once while connecting. */
const CONNECT_CONCURRENCY = 50;
/** How long a phase may take to drain its outstanding acks and deliveries. */
const DRAIN_MS = 30_000;
const TARGET_THROUGHPUT = 3000;
const TARGET_P99_MS = 50;

// --- the client processes -------------------------------------------------------------------

interface ClientSpec {
  readonly uid: string;
  readonly token: string;
  readonly partner: string;
}

type Command =
  | { cmd: 'connect'; url: string; clients: ClientSpec[] }
  | { cmd: 'warmup' }
  | { cmd: 'saturate'; window: number; ms: number }
  | { cmd: 'open'; rate: number; ms: number }
  | { cmd: 'disconnect' };

interface PhaseResult {
  readonly sent: number;
  readonly acked: number;
  readonly failures: Record<string, number>;
  /** Deliveries received while the phase ran, per second of it. */
  readonly perSecond: number[];
  /** Acks received while the phase ran. */
  readonly ackedInPhase: number;
  /** Every delivery of the phase's sends, drained or not. */
  readonly delivered: number;
  /** Send → partner's `message`, ms, of every delivery. */
  readonly samples: number[];
  /** Send → its ack, ms, of every acknowledged send. */
  readonly ackSamples: number[];
  /** Wall clock (performance.timeOrigin + now) of the phase's last ack. */
  readonly lastAckAt: number;
  /** How far behind its schedule the open loop emitted a send at worst, ms. */
  readonly maxLate: number;
  readonly sessionUpdates: number;
  readonly disconnects: number;
}

interface Client {
  readonly spec: ClientSpec;
  readonly socket: Socket;
  outstanding: number;
}

/** The client side: one process holding its share of the sockets, driven over IPC. */
async function clientProcess(): Promise<void> {
  let clients: Client[] = [];
  let nextId = 0;
  /** Emit time of each send not yet delivered, by the id its content carries. */
  const sentAt = new Map<number, number>();
  let phase: {
    t0: number;
    end: number;
    perSecond: number[];
    samples: number[];
    ackSamples: number[];
    ackedInPhase: number;
    delivered: number;
  } | null = null;
  let sessionUpdates = 0;
  let disconnects = 0;

  const onMessage = (data: { content?: string }) => {
    const now = performance.now();
    const m = /#(\d+)/.exec(data.content ?? '');
    if (!m) return;
    const id = Number(m[1]);
    const at = sentAt.get(id);
    if (at === undefined || !phase) return;
    sentAt.delete(id);
    phase.samples.push(now - at);
    phase.delivered += 1;
    if (now < phase.end) {
      const s = Math.floor((now - phase.t0) / 1000);
      phase.perSecond[s] = (phase.perSecond[s] ?? 0) + 1;
    }
  };

  const connect = (url: string, spec: ClientSpec) =>
    new Promise<Client>((resolve, reject) => {
      // forceNew: one connection per client (io() would otherwise share one Manager per url).
      const socket = io(url, {
        auth: { token: spec.token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      socket.on('message', onMessage);
      socket.on('session_updated', () => (sessionUpdates += 1));
      socket.on('disconnect', () => (disconnects += 1));
      socket.once('connect', () => resolve({ spec, socket, outstanding: 0 }));
      socket.once('connect_error', (err) => reject(new Error(`${spec.uid}: ${err.message}`)));
    });

  let acked = 0;
  let sent = 0;
  let lastAckAt = 0;
  let failures: Record<string, number> = {};
  const send = (c: Client, then?: () => void) => {
    const id = nextId++;
    sent += 1;
    c.outstanding += 1;
    const at = performance.now();
    sentAt.set(id, at);
    c.socket.emit(
      'send',
      {
        receiver_id: c.spec.partner,
        receiver_type: 1,
        msg_type: 1,
        content: JSON.stringify({ content: `#${id}` }),
        dev_id: randomUUID(),
      },
      (reply: { code: number }) => {
        c.outstanding -= 1;
        const now = performance.now();
        lastAckAt = performance.timeOrigin + now;
        if (reply.code === 0) {
          acked += 1;
          if (phase) {
            phase.ackSamples.push(now - at);
            if (now < phase.end) phase.ackedInPhase += 1;
          }
        } else {
          failures[reply.code] = (failures[reply.code] ?? 0) + 1;
          sentAt.delete(id);
        }
        then?.();
      },
    );
  };

  const startPhase = (ms: number) => {
    acked = 0;
    sent = 0;
    failures = {};
    sessionUpdates = 0;
    disconnects = 0;
    const t0 = performance.now();
    phase = {
      t0,
      end: t0 + ms,
      perSecond: [],
      samples: [],
      ackSamples: [],
      ackedInPhase: 0,
      delivered: 0,
    };
    return phase;
  };

  /** Waits (bounded) for every ack and every delivery of an acknowledged send. */
  const drain = async () => {
    const deadline = performance.now() + DRAIN_MS;
    while (performance.now() < deadline) {
      const busy = clients.some((c) => c.outstanding > 0) || sentAt.size > 0;
      if (!busy) break;
      await sleep(5);
    }
    sentAt.clear();
  };

  const result = (maxLate = 0): PhaseResult => {
    const p = phase!;
    phase = null;
    return {
      sent,
      acked,
      failures,
      perSecond: p.perSecond,
      delivered: p.delivered,
      samples: p.samples,
      ackSamples: p.ackSamples,
      ackedInPhase: p.ackedInPhase,
      lastAckAt,
      maxLate,
      sessionUpdates,
      disconnects,
    };
  };

  const handle = async (c: Command): Promise<unknown> => {
    switch (c.cmd) {
      case 'connect': {
        clients = [];
        for (let i = 0; i < c.clients.length; i += CONNECT_CONCURRENCY) {
          const chunk = c.clients.slice(i, i + CONNECT_CONCURRENCY);
          clients.push(...(await Promise.all(chunk.map((spec) => connect(c.url, spec)))));
        }
        return clients.length;
      }
      case 'warmup': {
        startPhase(0);
        await Promise.all(clients.map((cl) => new Promise<void>((r) => send(cl, r))));
        await drain();
        return result();
      }
      case 'saturate': {
        const p = startPhase(c.ms);
        const pump = (cl: Client) => {
          while (cl.outstanding < c.window && performance.now() < p.end) send(cl, () => pump(cl));
        };
        clients.forEach(pump);
        await sleep(c.ms);
        await drain();
        return result();
      }
      case 'open': {
        // Send k is due at t0 + k / rate, from client k mod n; each tick emits what is due.
        const p = startPhase(c.ms);
        const total = Math.floor((c.rate * c.ms) / 1000);
        let k = 0;
        let maxLate = 0;
        await new Promise<void>((resolve) => {
          const tick = () => {
            const now = performance.now();
            for (; k < total && p.t0 + (k * 1000) / c.rate <= now; k++) {
              maxLate = Math.max(maxLate, now - (p.t0 + (k * 1000) / c.rate));
              send(clients[k % clients.length]);
            }
            if (k < total) setTimeout(tick, 1);
            else resolve();
          };
          tick();
        });
        await drain();
        return result(maxLate);
      }
      case 'disconnect': {
        for (const cl of clients) cl.socket.close();
        clients = [];
        return 0;
      }
    }
  };

  serveParent(handle);
}

// --- the bench ------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function merge(results: PhaseResult[]): PhaseResult {
  const failures: Record<string, number> = {};
  const perSecond: number[] = [];
  for (const r of results) {
    for (const [c, n] of Object.entries(r.failures)) failures[c] = (failures[c] ?? 0) + n;
    r.perSecond.forEach((n, s) => (perSecond[s] = (perSecond[s] ?? 0) + (n ?? 0)));
  }
  const sum = (f: (r: PhaseResult) => number) => results.reduce((a, r) => a + f(r), 0);
  return {
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    ackedInPhase: sum((r) => r.ackedInPhase),
    failures,
    perSecond,
    delivered: sum((r) => r.delivered),
    samples: results.flatMap((r) => r.samples),
    ackSamples: results.flatMap((r) => r.ackSamples),
    lastAckAt: Math.max(...results.map((r) => r.lastAckAt)),
    maxLate: Math.max(...results.map((r) => r.maxLate)),
    sessionUpdates: sum((r) => r.sessionUpdates),
    disconnects: sum((r) => r.disconnects),
  };
}

interface Figures {
  readonly rssPerConnKb: number;
  readonly throughput: number;
  readonly open: Latency;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

function phaseLine(r: PhaseResult): string {
  const fails = Object.entries(r.failures)
    .map(([c, n]) => `${n} x ${c}`)
    .join(', ');
  return (
    `  sent ${r.sent}  acked ${r.acked}  delivered ${r.delivered}` +
    `${fails ? `  failures ${fails}` : ''}${r.disconnects ? `  DISCONNECTS ${r.disconnects}` : ''}`
  );
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

async function runTarget(
  name: 'bare' | 'ours',
  url: string,
  serverPid: number,
  peers: Peer<Command>[],
  specs: ClientSpec[][],
  pool: Pool | null,
): Promise<Figures> {
  const label = name === 'bare' ? 'bare Socket.IO relay' : 'our server';
  out(`\n== ${label} ==`);
  const all = <T>(command: (i: number) => Command) =>
    Promise.all(peers.map((p, i) => p.ask<T>(command(i))));
  const cpuOf = () =>
    new CpuMeter({
      [name === 'bare' ? 'relay' : 'server']: serverPid,
      ...Object.fromEntries(peers.map((p, i) => [`clients ${i + 1}`, p.child.pid])),
    });
  /** After a phase of ours: projections at the head, measured from the phase's last ack. */
  const lag = async (r: PhaseResult) => {
    if (!pool) return;
    await projectionsAtHead(pool);
    const behind = performance.timeOrigin + performance.now() - r.lastAckAt;
    out(`  every projection at the head ${behind.toFixed(0)} ms after the last ack`);
  };

  await sleep(500);
  const before = rssKb(serverPid);
  const tc = performance.now();
  const connected = await all<number>((i) => ({ cmd: 'connect', url, clients: specs[i] }));
  const connectMs = performance.now() - tc;
  const n = connected.reduce((a, b) => a + b, 0);
  await sleep(1000);
  const after = rssKb(serverPid);
  const rssPerConnKb = (after - before) / n;
  out(
    `connect ${n} clients: ${(connectMs / 1000).toFixed(2)} s; server VmRSS ${(before / 1024).toFixed(1)} -> ` +
      `${(after / 1024).toFixed(1)} MiB = ${rssPerConnKb.toFixed(1)} KiB per connection`,
  );

  const warm = merge(await all<PhaseResult>(() => ({ cmd: 'warmup' })));
  out(`warm-up, one send per client:\n${phaseLine(warm)}`);
  await lag(warm);
  if (pool) await resetStatementStats(pool);

  let cpu = cpuOf();
  cpu.start();
  const sat = merge(
    await all<PhaseResult>(() => ({ cmd: 'saturate', window: WINDOW, ms: PHASE_MS })),
  );
  const inPhase = sat.perSecond.reduce((a, b) => a + (b ?? 0), 0);
  const throughput = report(
    `saturation: ${WINDOW} sends outstanding per client, delivered`,
    inPhase,
    PHASE_MS,
    'msgs',
  );
  report('  acknowledged in the same time', sat.ackedInPhase, PHASE_MS, 'msgs');
  out(
    `  delivered per 1 s: ${sat.perSecond.map((x) => (x ?? 0).toLocaleString('en-US')).join(' ')}`,
  );
  out(phaseLine(sat));
  printLatency('  send -> partner message (saturated)', latency(sat.samples));
  printLatency('  send -> ack (saturated)', latency(sat.ackSamples));
  out(cpu.stop(sat.acked).replace(/^/gm, '  '));
  await lag(sat);
  if (pool) {
    await printStatementStats(pool, sat.acked);
    await resetStatementStats(pool);
  }

  cpu = cpuOf();
  cpu.start();
  const open = merge(
    await all<PhaseResult>(() => ({ cmd: 'open', rate: RATE / peers.length, ms: PHASE_MS })),
  );
  const l = latency(open.samples);
  printLatency(`open loop: ${RATE} sends/s offered, send -> partner message`, l, TARGET_P99_MS);
  printLatency('  send -> ack', latency(open.ackSamples));
  out(`${phaseLine(open)}  (client late on its schedule by at most ${open.maxLate.toFixed(1)} ms)`);
  out(cpu.stop(open.acked).replace(/^/gm, '  '));
  await lag(open);
  if (pool) {
    out(`  session_updated pushes received in the open loop: ${open.sessionUpdates}`);
    const acked = warm.acked + sat.acked + open.acked;
    const { rows } = await pool.query<{ events: string; rows: string }>(
      `SELECT (SELECT count(*) FROM es_events WHERE type = 'MessageSent') AS events,
              (SELECT count(*) FROM rm_messages) AS rows`,
    );
    const ok = Number(rows[0].events) === acked && Number(rows[0].rows) === acked;
    out(
      `persisted: ${acked} sends acknowledged, ${rows[0].events} MessageSent events, ` +
        `${rows[0].rows} rm_messages rows${ok ? '' : '  MISMATCH'}`,
    );
    await printStatementStats(pool, open.acked);
  }
  await all(() => ({ cmd: 'disconnect' }));
  return { rssPerConnKb, throughput, open: l };
}

async function main(): Promise<void> {
  const db = await benchDatabase(4);
  let server: BenchServer | null = null;
  let relay: ChildProcess | null = null;
  const peers: Peer<Command>[] = [];
  try {
    server = await startServer(db.url, {
      SEND_RATE_PER_SECOND: '100000',
      SEND_RATE_BURST: '100000',
      SEND_DAILY_CAP: '100000000',
    });
    const http = new HttpClient(server.url, 16);
    const uids = Array.from({ length: CLIENTS }, (_, i) => `u${i}`);
    const partner = (i: number) => i ^ 1;
    const tokens: string[] = new Array(CLIENTS);
    const t0 = performance.now();
    await inPool([...uids.keys()], 16, async (i) => {
      tokens[i] = await http.token(server!.adminKey, uids[i]);
    });
    // Everyone follows their partner: either may send any number of messages in a row.
    await inPool([...uids.keys()], 16, async (i) => {
      const res = await http.call('PUT', `/api/v1/relations/following/${uids[partner(i)]}`, {
        authorization: `Bearer ${tokens[i]}`,
      });
      if (res.status !== 200) throw new Error(`follow: ${res.status} ${JSON.stringify(res.json)}`);
    });
    http.close();
    out(
      `setup: ${CLIENTS} users (${CLIENTS / 2} pairs), tokens and follows in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s; ${CLIENT_PROCESSES} client processes`,
    );

    for (let p = 0; p < CLIENT_PROCESSES; p++)
      peers.push(new Peer<Command>(forkTs(__filename, ['client'])));
    // Pair p in client process p % CLIENT_PROCESSES: both ends of a message on one clock.
    const specsFor = (token: (i: number) => string) => {
      const specs: ClientSpec[][] = peers.map(() => []);
      uids.forEach((uid, i) =>
        specs[(i >> 1) % peers.length].push({ uid, token: token(i), partner: uids[partner(i)] }),
      );
      return specs;
    };

    const figures: Partial<Record<'bare' | 'ours', Figures>> = {};
    if (TARGETS.includes('bare')) {
      relay = forkTs(join(__dirname, 'bare-relay.ts'));
      const port = await new Promise<number>((resolve) =>
        relay!.once('message', (m: { port: number }) => resolve(m.port)),
      );
      figures.bare = await runTarget(
        'bare',
        `http://127.0.0.1:${port}`,
        relay.pid!,
        peers,
        specsFor((i) => uids[i]),
        null,
      );
      relay.kill('SIGTERM');
      relay = null;
    }
    if (TARGETS.includes('ours')) {
      figures.ours = await runTarget(
        'ours',
        server.url,
        server.child.pid!,
        peers,
        specsFor((i) => tokens[i]),
        db.pool,
      );
    }

    const { bare, ours } = figures;
    if (ours) {
      const verdict = ours.throughput >= TARGET_THROUGHPUT ? 'meets' : 'MISSES';
      out(
        `\nours: ${Math.round(ours.throughput).toLocaleString('en-US')} msgs/s delivered ` +
          `(${verdict} ${TARGET_THROUGHPUT.toLocaleString('en-US')}/s); open loop p99 ` +
          `${ours.open.p99.toFixed(1)} ms (${ours.open.p99 < TARGET_P99_MS ? 'meets' : 'MISSES'} ` +
          `< ${TARGET_P99_MS} ms)`,
      );
    }
    if (bare && ours) {
      out(
        `ours / bare: throughput ${(ours.throughput / bare.throughput).toFixed(2)}  ` +
          `p50 ${(ours.open.p50 / bare.open.p50).toFixed(1)}  p99 ${(ours.open.p99 / bare.open.p99).toFixed(1)}  ` +
          `memory per connection ${(ours.rssPerConnKb / bare.rssPerConnKb).toFixed(1)}`,
      );
    }
  } finally {
    for (const p of peers) p.child.kill('SIGTERM');
    relay?.kill('SIGTERM');
    await server?.stop();
    await db.close();
  }
}

if (process.argv[2] === 'client') {
  void clientProcess();
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
