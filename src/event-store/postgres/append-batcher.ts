/**
 * Group commit for appends: appends that arrive while earlier ones are in flight wait and then go
 * to the database together, in one transaction and one round trip. A quiet system pays no delay;
 * a busy one pays one commit (one WAL flush) for many appends.
 */
export interface BatchRunner<Req, Res> {
  /** Runs a batch; returns one settled result per request, in order. */
  (requests: readonly Req[]): Promise<readonly PromiseSettledResult<Res>[]>;
}

interface Pending<Req, Res> {
  readonly request: Req;
  readonly resolve: (value: Res) => void;
  readonly reject: (reason: unknown) => void;
}

export class AppendBatcher<Req, Res> {
  private readonly queue: Pending<Req, Res>[] = [];
  private inFlight = 0;
  private pumpScheduled = false;

  constructor(
    private readonly run: BatchRunner<Req, Res>,
    private readonly maxConcurrentBatches: number,
    private readonly maxBatchSize: number,
  ) {}

  submit(request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedulePump();
    });
  }

  /**
   * Batches start on the next turn of the event loop, never inside `submit`: callers answered by
   * the batch that just ended append again in their continuations, and all of them (not only the
   * first) then go out together.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxConcurrentBatches && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatchSize);
      this.inFlight++;
      void this.runBatch(batch);
    }
  }

  private async runBatch(batch: Pending<Req, Res>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((p) => p.request));
      batch.forEach((p, i) => {
        const r = results[i];
        if (r.status === 'fulfilled') p.resolve(r.value);
        else p.reject(r.reason);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
      this.schedulePump();
    }
  }
}
