import { comparePositions, Position } from '../event-store/event-store.port';

interface Waiter {
  readonly position: Position;
  readonly resolve: () => void;
}

/**
 * Callers waiting for something that follows the log (a projector, the realtime follower) to pass
 * a position. A wait ends when {@link reached} reports that position or a later one, when its
 * signal aborts, or at {@link releaseAll}; either way it leaves the list and its abort listener
 * goes, so a signal that outlives many waits does not collect them.
 */
export class PositionWaiters {
  // A set: a wait leaves it in O(1), so ending many waits at once stays linear.
  private readonly waiters = new Set<Waiter>();

  get size(): number {
    return this.waiters.size;
  }

  wait(position: Position, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = { position, resolve: () => done() };
      const done = () => {
        signal?.removeEventListener('abort', done);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Ends every wait for `at` or an earlier position. */
  reached(at: Position): void {
    // Deleting the current entry while iterating a Set is safe.
    for (const w of this.waiters) {
      if (comparePositions(at, w.position) >= 0) w.resolve();
    }
  }

  /** Ends every wait. */
  releaseAll(): void {
    for (const w of [...this.waiters]) w.resolve();
  }
}
