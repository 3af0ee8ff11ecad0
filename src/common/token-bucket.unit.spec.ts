import { TokenBucket } from './token-bucket';

const T0_MS = 1_720_000_000_000;

/** How many tokens can be taken at `nowMs`, taking them all. */
function drain(bucket: TokenBucket, nowMs: number, atMost = 1_000): number {
  let taken = 0;
  while (taken < atMost && bucket.take(nowMs)) taken += 1;
  return taken;
}

describe('TokenBucket', () => {
  describe('burst', () => {
    it('starts full: allows `burst` takes at once, then refuses', () => {
      const bucket = new TokenBucket(1, 5, T0_MS);
      expect(drain(bucket, T0_MS)).toBe(5);
      expect(bucket.take(T0_MS)).toBe(false);
    });

    it('allows a single take with a burst of 1', () => {
      const bucket = new TokenBucket(10, 1, T0_MS);
      expect(bucket.take(T0_MS)).toBe(true);
      expect(bucket.take(T0_MS)).toBe(false);
    });

    it('keeps refusing while no time passes', () => {
      const bucket = new TokenBucket(2, 3, T0_MS);
      drain(bucket, T0_MS);
      for (let i = 0; i < 10; i++) expect(bucket.take(T0_MS)).toBe(false);
    });
  });

  describe('has', () => {
    it('tells whether a token is there without taking it', () => {
      const bucket = new TokenBucket(1, 2, T0_MS);
      expect(bucket.has(T0_MS)).toBe(true);
      expect(bucket.has(T0_MS)).toBe(true);
      expect(drain(bucket, T0_MS)).toBe(2);
      expect(bucket.has(T0_MS)).toBe(false);
    });

    it('sees tokens refilled by the time given', () => {
      const bucket = new TokenBucket(1, 2, T0_MS);
      drain(bucket, T0_MS);
      expect(bucket.has(T0_MS + 999)).toBe(false);
      expect(bucket.has(T0_MS + 1_000)).toBe(true);
    });
  });

  describe('refill', () => {
    it('adds `ratePerSecond` tokens a second', () => {
      const bucket = new TokenBucket(2, 10, T0_MS);
      drain(bucket, T0_MS);
      expect(drain(bucket, T0_MS + 1_000)).toBe(2);
      expect(drain(bucket, T0_MS + 3_000)).toBe(4);
    });

    it('gives the first token back only when a whole one has accrued', () => {
      const bucket = new TokenBucket(1, 3, T0_MS);
      drain(bucket, T0_MS);
      expect(bucket.take(T0_MS + 500)).toBe(false);
      expect(bucket.take(T0_MS + 999)).toBe(false);
      expect(bucket.take(T0_MS + 1_000)).toBe(true);
      expect(bucket.take(T0_MS + 1_000)).toBe(false);
    });

    it('has the token at one second even when probed every 100 ms on the way', () => {
      const bucket = new TokenBucket(1, 3, T0_MS);
      drain(bucket, T0_MS);
      // Probing must not delay the token: ten refills of 0.1 must make a whole one.
      for (let ms = 100; ms < 1_000; ms += 100) expect(bucket.take(T0_MS + ms)).toBe(false);
      expect(bucket.take(T0_MS + 1_000)).toBe(true);
    });

    it('refills at a fractional rate', () => {
      const bucket = new TokenBucket(0.5, 2, T0_MS);
      drain(bucket, T0_MS);
      expect(bucket.take(T0_MS + 1_999)).toBe(false);
      expect(bucket.take(T0_MS + 2_000)).toBe(true);
    });

    it('sustains exactly the rate over a long run of steady takes', () => {
      // 20 a second with no burst to spare: one take every 50 ms always succeeds...
      const bucket = new TokenBucket(20, 1, T0_MS);
      expect(bucket.take(T0_MS)).toBe(true);
      for (let i = 1; i <= 1_000; i++) expect(bucket.take(T0_MS + i * 50)).toBe(true);
      // ...and a second take within the same 50 ms never does.
      expect(bucket.take(T0_MS + 1_000 * 50 + 25)).toBe(false);
    });

    it('counts the time since the last call, not since creation', () => {
      const bucket = new TokenBucket(1, 5, T0_MS);
      drain(bucket, T0_MS + 2_000); // 5 saved; the 2 s of refill are lost to the cap
      expect(drain(bucket, T0_MS + 3_000)).toBe(1);
    });
  });

  describe('cap at burst', () => {
    it('saves up no more than `burst` however long it was idle', () => {
      const bucket = new TokenBucket(10, 3, T0_MS);
      expect(drain(bucket, T0_MS + 3_600_000)).toBe(3);
    });

    it('refills up to burst and no further after being drained', () => {
      const bucket = new TokenBucket(1, 4, T0_MS);
      drain(bucket, T0_MS);
      expect(drain(bucket, T0_MS + 60_000)).toBe(4);
    });
  });

  describe('giveBack', () => {
    it('returns a taken token so it can be taken again', () => {
      const bucket = new TokenBucket(1, 2, T0_MS);
      drain(bucket, T0_MS);
      bucket.giveBack();
      expect(bucket.take(T0_MS)).toBe(true);
      expect(bucket.take(T0_MS)).toBe(false);
    });

    it('never raises a full bucket above burst', () => {
      const bucket = new TokenBucket(1, 3, T0_MS);
      bucket.giveBack();
      bucket.giveBack();
      expect(drain(bucket, T0_MS)).toBe(3);
    });

    it('never raises a partly refilled bucket above burst', () => {
      const bucket = new TokenBucket(1, 2, T0_MS);
      expect(bucket.take(T0_MS)).toBe(true); // 1 left
      expect(bucket.has(T0_MS + 500)).toBe(true); // 1.5
      bucket.giveBack(); // capped at 2, not 2.5
      bucket.giveBack();
      expect(drain(bucket, T0_MS + 500)).toBe(2);
      // Half a second later the bucket holds half a token, not one.
      expect(bucket.take(T0_MS + 999)).toBe(false);
      expect(bucket.take(T0_MS + 1_500)).toBe(true);
    });

    it('returns no more than was given back', () => {
      const bucket = new TokenBucket(1, 5, T0_MS);
      drain(bucket, T0_MS);
      bucket.giveBack();
      bucket.giveBack();
      expect(drain(bucket, T0_MS)).toBe(2);
    });
  });

  describe('a clock stepping back', () => {
    it('mints no tokens by going back and forth', () => {
      const bucket = new TokenBucket(1, 2, T0_MS);
      drain(bucket, T0_MS);
      expect(bucket.take(T0_MS - 5_000)).toBe(false);
      expect(bucket.take(T0_MS)).toBe(false);
      expect(bucket.take(T0_MS + 1_000)).toBe(true);
      expect(bucket.take(T0_MS + 1_000)).toBe(false);
    });
  });
});
