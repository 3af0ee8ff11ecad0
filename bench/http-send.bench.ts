/**
 * Sending over REST end to end: the server as its own process (`node dist/src/main.js`, built by
 * `nest build`, projections on, default log level) on the bench's PostgreSQL (benchDatabase, the
 * embedded server's default durable settings, given to the server as DATABASE_URL), and a load
 * generator in this process: 200 concurrent senders in 100 pairs, each sending to its partner and
 * waiting for each answer before sending again, over keep-alive connections. Every user follows
 * its partner first (so the one-message-before-a-reply rule, 21047, does not apply) and the
 * per-sender limits are raised (SEND_RATE_PER_SECOND, SEND_RATE_BURST, SEND_DAILY_CAP): the figure
 * is the server's, not the limits'.
 * Reports messages/s acknowledged (whole run and per 5 s window), send latency, CPU per party, and
 * the projection lag: for every SAMPLE-th message, the time from its 201 until the receiver's read
 * model shows it (its rm_messages row and the receiver's rm_sessions max_seqno), polled every 10 ms.
 *   npm run bench:http-send            (SENDERS=200 MESSAGES=40000 SAMPLE=5)
 * Where the time goes:
 *   PROF=1               CPU profile of the server in /tmp/prof (bench/profile-summary.ts sums it)
 *   PGSS=1               statements per message from pg_stat_statements
 *   LOG_LEVEL, PROJECTIONS=off   passed to the server (no lag is measured without projections)
 *   PROJECTOR_PROCESS=1  projections in a second server process that serves no requests
 *   API_PROCESSES=n      n API server processes on the same database, pair p on server p % n
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { CpuMeter } from './cpu';
import { latency } from './measure';
import { BenchServer, HttpClient, startServer } from './server';
import { benchDatabase, printStatementStats, report, resetStatementStats } from './support';

const SENDERS = Number(process.env.SENDERS ?? 200);
const MESSAGES = Number(process.env.MESSAGES ?? 40_000);
const SAMPLE = Number(process.env.SAMPLE ?? 5);
const API_PROCESSES = Number(process.env.API_PROCESSES ?? 1);
const POLL_MS = 10;
const WINDOW_MS = 5000;

interface Sample {
  readonly msgKey: string;
  readonly seqno: number;
  readonly receiver: string;
  readonly sender: string;
  readonly ackedAt: number;
}

/**
 * Polls the read models for sampled messages: visible once the message's rm_messages row exists
 * and the receiver's session has reached its seqno.
 */
class LagProbe {
  private pending: Sample[] = [];
  readonly lags: number[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly pool: Pool) {
    this.loop = this.run();
  }

  add(s: Sample): void {
    this.pending.push(s);
  }

  /** Waits until every sample has been seen (or `timeoutMs`), then stops polling. */
  async finish(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.length > 0 && Date.now() < deadline) await sleep(POLL_MS);
    this.stopped = true;
    await this.loop;
    return this.pending.length;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const batch = this.pending;
      if (batch.length > 0) {
        const { rows } = await this.pool.query<{ k: string }>(
          `SELECT i.k::text AS k
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS i(k, o, t, seq)
            WHERE EXISTS (SELECT 1 FROM rm_messages m WHERE m.msg_key = i.k)
              AND EXISTS (SELECT 1 FROM rm_sessions s WHERE s.owner_uid = i.o
                             AND s.session_type = 1 AND s.talker_id = i.t AND s.max_seqno >= i.seq)`,
          [
            batch.map((s) => s.msgKey),
            batch.map((s) => s.receiver),
            batch.map((s) => s.sender),
            batch.map((s) => s.seqno),
          ],
        );
        const now = performance.now();
        const seen = new Set(rows.map((r) => r.k));
        for (const s of batch) if (seen.has(s.msgKey)) this.lags.push(now - s.ackedAt);
        // Samples added while the query ran are in this.pending after `batch`'s.
        this.pending = this.pending.filter((s) => !seen.has(s.msgKey));
      }
      await sleep(POLL_MS);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const db = await benchDatabase(4);
  const limits = {
    SEND_RATE_PER_SECOND: '100000',
    SEND_RATE_BURST: '100000',
    SEND_DAILY_CAP: '100000000',
  };
  // PROJECTOR_PROCESS=1: the API servers without projections, and one more server process on the
  // same database that runs them and serves nothing. API_PROCESSES=n: n API servers on the same
  // database (projections in the first), pair p on server p % n.
  const separate = Boolean(process.env.PROJECTOR_PROCESS);
  const servers: BenchServer[] = [];
  for (let n = 0; n < API_PROCESSES; n++) {
    servers.push(
      await startServer(db.url, {
        ...limits,
        ...(separate || n > 0 ? { PROJECTIONS: 'off' } : {}),
      }),
    );
  }
  const projector = separate ? await startServer(db.url, { PROJECTIONS: 'on' }) : null;
  const clients = servers.map((s) => new HttpClient(s.url, SENDERS));
  const clientOf = (i: number) => clients[(i >> 1) % clients.length];
  const probePool = new Pool({ connectionString: db.url, max: 1 });
  probePool.on('error', () => undefined);
  try {
    const users = Array.from({ length: SENDERS }, (_, i) => `u${i}`);
    const partner = (i: number) => i ^ 1;
    const tokens: string[] = [];
    for (const uid of users) tokens.push(await clients[0].token(servers[0].adminKey, uid));
    // Everyone follows their partner: either may send any number of messages in a row.
    await Promise.all(
      users.map(async (_, i) => {
        const res = await clientOf(i).call(
          'PUT',
          `/api/v1/relations/following/${users[partner(i)]}`,
          {
            authorization: `Bearer ${tokens[i]}`,
          },
        );
        if (res.status !== 200)
          throw new Error(`follow: ${res.status} ${JSON.stringify(res.json)}`);
      }),
    );
    await resetStatementStats(db.pool);

    const cpu = new CpuMeter({
      ...Object.fromEntries(servers.map((s, n) => [n ? `server ${n + 1}` : 'server', s.child.pid])),
      projector: projector?.child.pid,
    });
    cpu.start();
    const probe = new LagProbe(probePool);
    const latencies: number[] = [];
    const acks: number[] = [];
    const failures = new Map<string, number>();
    const perSender = Math.ceil(MESSAGES / SENDERS);
    const t0 = performance.now();
    await Promise.all(
      tokens.map(async (token, i) => {
        const receiver = users[partner(i)];
        for (let k = 0; k < perSender; k++) {
          const s = performance.now();
          const res = await clientOf(i).call(
            'POST',
            '/api/v1/messages',
            { authorization: `Bearer ${token}` },
            {
              receiver_id: receiver,
              receiver_type: 1,
              msg_type: 1,
              content: JSON.stringify({ content: `message ${k} from u${i}` }),
              dev_id: randomUUID(),
            },
          );
          const now = performance.now();
          latencies.push(now - s);
          if (res.status !== 201) {
            const code = `${res.status} ${(res.json as { code?: number } | null)?.code ?? ''}`;
            failures.set(code, (failures.get(code) ?? 0) + 1);
            continue;
          }
          acks.push(now - t0);
          if (k % SAMPLE === 0) {
            const body = res.json as { msg_key: string; msg_seqno: number };
            probe.add({
              msgKey: body.msg_key,
              seqno: body.msg_seqno,
              receiver,
              sender: users[i],
              ackedAt: now,
            });
          }
        }
      }),
    );
    const ms = performance.now() - t0;
    const lastAck = performance.now();
    const cpuLine = cpu.stop(acks.length);
    const api = API_PROCESSES > 1 ? `, ${API_PROCESSES} API processes` : '';
    const proj = separate ? ', projections in their own process' : '';
    report(`REST sends, ${SENDERS} concurrent senders${api}${proj}`, acks.length, ms, 'msgs');
    const windows: string[] = [];
    for (let w = 0; w * WINDOW_MS < ms; w++) {
      const n = acks.filter((a) => a >= w * WINDOW_MS && a < (w + 1) * WINDOW_MS).length;
      const span = Math.min(WINDOW_MS, ms - w * WINDOW_MS);
      if (span >= 1000) windows.push(Math.round((n * 1000) / span).toLocaleString('en-US'));
    }
    process.stdout.write(`msgs/s per ${WINDOW_MS / 1000} s window: ${windows.join(' ')}\n`);
    const l = latency(latencies);
    const fails = [...failures].map(([c, n]) => `${n} x ${c}`).join(', ') || '0';
    process.stdout.write(
      `send latency ms: p50 ${l.p50.toFixed(1)}  p95 ${l.p95.toFixed(1)}  p99 ${l.p99.toFixed(1)}  max ${l.max.toFixed(1)}  failures ${fails}\n`,
    );

    process.stdout.write(`${cpuLine}\n`);
    const projections = separate || process.env.PROJECTIONS !== 'off';
    const unseen = await probe.finish(projections ? 60_000 : 0);
    if (projections) {
      const lag = latency(probe.lags);
      process.stdout.write(
        `projection lag ms (201 -> visible in the receiver's rm_messages and rm_sessions, ` +
          `${probe.lags.length} samples${unseen ? `, ${unseen} never seen` : ''}): ` +
          `p50 ${lag.p50.toFixed(0)}  p95 ${lag.p95.toFixed(0)}  p99 ${lag.p99.toFixed(0)}  max ${lag.max.toFixed(0)}\n`,
      );
      for (;;) {
        const { rows } = await probePool.query<{ behind: string }>(
          `SELECT count(*) AS behind FROM projection_checkpoints c
            WHERE (c.commit_position, c.prepare_position) <
                  (SELECT transaction_id::text::bigint, global_position FROM es_events
                    ORDER BY transaction_id DESC, global_position DESC LIMIT 1)`,
        );
        if (rows[0].behind === '0') break;
        await sleep(POLL_MS);
      }
      process.stdout.write(
        `every projection at the head ${(performance.now() - lastAck).toFixed(0)} ms after the last acknowledgement\n`,
      );
    }

    await printStatementStats(db.pool, acks.length);
  } finally {
    for (const c of clients) c.close();
    for (const s of servers) await s.stop();
    await projector?.stop();
    await probePool.end();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
