import { Client, Pool } from 'pg';

/**
 * One LISTEN connection shared by every subscription of a store. A notification only says
 * "something was appended"; subscribers then read the log. A `generation` counter closes the race
 * between a read that found nothing and the wait that follows it.
 */
export class AppendNotifier {
  private client: Client | null = null;
  private connecting: Promise<void> | null = null;
  private users = 0;
  private waiters = new Set<() => void>();
  private closed = false;
  generation = 0;

  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
  ) {}

  retain(): void {
    this.users++;
    if (!this.client && !this.connecting) this.connecting = this.connect();
  }

  release(): void {
    this.users = Math.max(0, this.users - 1);
  }

  /** Resolves when a notification arrives after `seenGeneration`, on timeout, or on abort. */
  waitForChange(seenGeneration: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.generation !== seenGeneration || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private wakeAll(): void {
    this.generation++;
    for (const w of [...this.waiters]) w();
  }

  private async connect(): Promise<void> {
    const client = new Client(this.pool.options);
    client.on('notification', () => this.wakeAll());
    client.on('error', () => {
      // The poll fallback keeps subscriptions going; reconnect for timely wake-ups.
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => this.reconnect(), 500).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.wakeAll();
    } catch {
      await client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => this.reconnect(), 500).unref();
    } finally {
      this.connecting = null;
    }
  }

  private reconnect(): void {
    if (this.closed || this.client || this.connecting || this.users === 0) return;
    this.connecting = this.connect();
  }
}
