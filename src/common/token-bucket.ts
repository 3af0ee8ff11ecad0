/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. Time comes from the
 * caller, so it is deterministic under test.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.refilledAtMs = nowMs;
  }

  /** Whether a token is there now (refilling first); takes nothing. */
  has(nowMs: number): boolean {
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((nowMs - this.refilledAtMs) / 1000) * this.ratePerSecond,
    );
    this.refilledAtMs = nowMs;
    // Refills summed in floating point may fall a hair short of a whole token.
    return this.tokens >= 1 - 1e-9;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    if (!this.has(nowMs)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back one token taken for something that did not happen. */
  giveBack(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}
