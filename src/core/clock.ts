/** The time source, injected so tests control it. */
export abstract class Clock {
  /** Milliseconds since the epoch. */
  abstract nowMs(): number;
  /** Microseconds since the epoch, strictly increasing within this process. */
  abstract nowUs(): number;
}

class SystemClock extends Clock {
  private lastUs = 0;

  nowMs(): number {
    return Date.now();
  }

  nowUs(): number {
    // Date.now() has millisecond resolution: spread calls within one millisecond so that
    // session_ts values stay distinct and ordered on one node.
    const us = Math.max(Date.now() * 1000, this.lastUs + 1);
    this.lastUs = us;
    return us;
  }
}

export const SYSTEM_CLOCK: Clock = new SystemClock();
