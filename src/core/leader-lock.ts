import { Client } from 'pg';

export interface LeaderLockLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LeaderLockOptions {
  readonly connectionString: string;
  /** The advisory lock's key: one per kind of work that must run once. */
  readonly key: bigint;
  /** How often a waiting process tries the lock, and the holder checks its connection. */
  readonly pollMs?: number;
  readonly logger?: LeaderLockLogger;
}

/** Work that runs only while this process holds the lock. */
export interface LeaderWork {
  start(): void;
  stop(): Promise<void>;
}

/** Advisory lock key of the projection runner (any fixed 64-bit number; "projectr" in ASCII). */
export const PROJECTIONS_LOCK_KEY = 0x70726f6a65637472n;

/**
 * One active process among many: each tries a PostgreSQL session-level advisory lock on its own
 * connection; the one that gets it does the work, the others try again every `pollMs`. The lock
 * is the connection's: when the holder dies (or its connection does), PostgreSQL releases it and
 * a waiting process takes over at its next try. A holder that finds its connection broken (it
 * checks every `pollMs`) stops the work and queues for the lock again. Correctness does not rest
 * on the lock: the projection runner moves each checkpoint only from where it read it, so a
 * former holder that has not yet noticed cannot apply a batch twice (ProjectionRunner).
 */
export class LeaderLock {
  private client: Client | null = null;
  private stopped = false;
  private holding = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly pollMs: number;

  constructor(
    private readonly options: LeaderLockOptions,
    private readonly work: LeaderWork,
  ) {
    this.pollMs = options.pollMs ?? 1_000;
  }

  /** How many times this process has tried the lock (while not holding it) or checked it. */
  tries = 0;

  /** True while this process holds the lock and runs the work. */
  get isLeader(): boolean {
    return this.holding;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the work, releases the lock, closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connect();
        if (await this.tryLock()) {
          this.holding = true;
          this.options.logger?.info({ key: String(this.options.key) }, 'took the lead');
          this.work.start();
          await this.holdWhileConnected();
        }
      } catch (err) {
        this.options.logger?.warn(
          { err: (err as Error).message },
          this.holding
            ? 'lost the connection holding the lead; stopping the work'
            : 'lock check failed',
        );
      } finally {
        if (this.holding) {
          this.holding = false;
          await this.work.stop();
        }
      }
      if (this.stopped) break;
      await this.pause();
    }
    await this.disconnect();
  }

  private async connect(): Promise<void> {
    if (this.client) return;
    const client = new Client({
      connectionString: this.options.connectionString,
      // This side notices a dead connection by its keepalives, and every check has a deadline.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
      query_timeout: Math.max(5_000, this.pollMs * 5),
      application_name: 'im-leader-lock',
    });
    client.on('error', () => {
      // Reported through the next query's failure; the loop reconnects. The session is ended
      // too, so a connection that is not quite dead cannot go on holding the lock.
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      this.wake?.();
    });
    client.on('end', () => {
      if (this.client === client) this.client = null;
      this.wake?.();
    });
    try {
      await client.connect();
      // The server's side: a holder whose host vanishes (no FIN, no RST) is dropped, and its lock
      // released, after about 5 + 3 x 2 s of silence, not after the operating system's two hours.
      await client.query(
        'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3',
      );
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
  }

  private async tryLock(): Promise<boolean> {
    this.tries++;
    const { rows } = await this.client!.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock($1::bigint) AS ok',
      [BigInt.asIntN(64, this.options.key).toString()],
    );
    return rows[0].ok;
  }

  /** Returns when asked to stop; throws when the connection that holds the lock breaks. */
  private async holdWhileConnected(): Promise<void> {
    while (!this.stopped) {
      const client = this.client;
      if (!client) throw new Error('the connection holding the lock ended');
      try {
        await client.query('SELECT 1');
      } catch (err) {
        // Unanswered in time, or broken: end the session (releasing the lock) and queue again.
        this.client = null;
        await client.end().catch(() => undefined);
        throw err;
      }
      this.tries++;
      await this.pause();
    }
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    // Ending the session releases the lock.
    await client?.end().catch(() => undefined);
  }
}
