/**
 * Where the machine's CPU went during a run (Linux /proc): the server process, PostgreSQL (the
 * bench's own postmaster and its backends), this process, and everything else (other work on the
 * machine, which makes a run's figures unreliable when it is large).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface ProcStat {
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, in ms. */
  readonly cpuMs: number;
  /** stime (in the kernel), in ms. */
  readonly sysMs: number;
}

/** A process's CPU time and parent, or null when it is gone. */
export function procStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    // Fields after the comm: state(0) ppid(1) … utime(11) stime(12).
    return {
      ppid: Number(f[1]),
      comm,
      cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS,
      sysMs: Number(f[12]) * TICK_MS,
    };
  } catch {
    return null;
  }
}

function allProcs(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(Number(d));
    if (s) out.set(Number(d), s);
  }
  return out;
}

interface Snapshot {
  readonly busyMs: number;
  /** Per named process: [cpu, kernel] ms. */
  readonly named: Map<string, [number, number]>;
  readonly postgresMs: number;
  readonly selfMs: number;
  readonly at: number;
}

/** The cores' busy time (all processes), in ms. */
export function machineBusyMs(): number {
  const cpu = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = cpu[3] + cpu[4];
  const all = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return (all - idle) * TICK_MS;
}

/**
 * CPU use per party between `start()` and `stop()`. PostgreSQL is every `postgres` process whose
 * parent is a `postgres` child of `pgParent` (this process by default, as the bench starts it) or
 * that child itself; backends that ended during the run are not counted.
 */
export class CpuMeter {
  private first: Snapshot | null = null;

  /** `processes`: name → pid of the processes to report (the server, a projector process). */
  constructor(
    private readonly processes: Readonly<Record<string, number | undefined>>,
    private readonly pgParent = process.pid,
  ) {}

  private snapshot(): Snapshot {
    const procs = allProcs();
    const postmasters = [...procs].filter(
      ([, s]) => s.ppid === this.pgParent && s.comm === 'postgres',
    );
    const pm = new Set(postmasters.map(([pid]) => pid));
    let pg = 0;
    for (const [pid, s] of procs) if (pm.has(pid) || pm.has(s.ppid)) pg += s.cpuMs;
    const named = new Map<string, [number, number]>();
    for (const [name, pid] of Object.entries(this.processes)) {
      if (pid === undefined) continue;
      const s = procs.get(pid);
      named.set(name, [s?.cpuMs ?? 0, s?.sysMs ?? 0]);
    }
    const self = process.cpuUsage();
    return {
      busyMs: machineBusyMs(),
      named,
      postgresMs: pg,
      selfMs: (self.user + self.system) / 1000,
      at: performance.now(),
    };
  }

  start(): void {
    this.first = this.snapshot();
  }

  /** Cores used by each party over the interval, and their CPU ms per `units` (say, messages). */
  stop(units?: number): string {
    const a = this.first!;
    const b = this.snapshot();
    const wall = b.at - a.at;
    const cores = (ms: number) => (ms / wall).toFixed(2);
    const per = (ms: number) => (units ? (ms / units).toFixed(3) : '-');
    const parties: [string, number, number | null][] = [];
    for (const [name, [cpu, sys]] of b.named) {
      const [cpu0, sys0] = a.named.get(name)!;
      parties.push([name, cpu - cpu0, sys - sys0]);
    }
    parties.push(['postgres', b.postgresMs - a.postgresMs, null]);
    parties.push(['load generator', b.selfMs - a.selfMs, null]);
    const busy = b.busyMs - a.busyMs;
    const other = Math.max(0, busy - parties.reduce((sum, [, ms]) => sum + ms, 0));
    const used = parties
      .map(([n, ms, sys]) => `${n} ${cores(ms)}${sys === null ? '' : ` (kernel ${cores(sys)})`}`)
      .join('  ');
    return (
      `CPU, cores used: ${used}  other processes ${cores(other)}  (machine busy ${cores(busy)})` +
      (units
        ? `\nCPU ms per message: ${parties.map(([n, ms]) => `${n} ${per(ms)}`).join('  ')}`
        : '')
    );
  }
}

/**
 * How fast this machine is now, to compare runs made on different days (a virtual machine's speed
 * drifts: the same fill of the rebuild bench took 81 s one evening and 136 s another day): SHA-256
 * over 64 MB in this process (plain CPU), and round trips of 100 bytes over a loopback TCP
 * connection to a server in this process (system calls and the loopback stack, which every
 * database round trip and HTTP request pays). Takes about a second.
 */
export async function machineReference(): Promise<{
  sha256MBps: number;
  loopbackRoundTripUs: number;
}> {
  const data = Buffer.alloc(64 * 1024 * 1024, 7);
  let t0 = performance.now();
  createHash('sha256').update(data).digest();
  const sha256MBps = 64 / ((performance.now() - t0) / 1000);

  const server = createServer((socket) => socket.on('data', (d) => socket.write(d)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  const message = Buffer.alloc(100, 1);
  const trip = () =>
    new Promise<void>((resolve) => {
      let got = 0;
      const onData = (d: Buffer) => {
        got += d.length;
        if (got < message.length) return;
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
      socket.write(message);
    });
  for (let i = 0; i < 200; i++) await trip();
  const trips = 2000;
  t0 = performance.now();
  for (let i = 0; i < trips; i++) await trip();
  const loopbackRoundTripUs = ((performance.now() - t0) * 1000) / trips;
  socket.destroy();
  await new Promise((resolve) => server.close(resolve));
  return { sha256MBps, loopbackRoundTripUs };
}
