import { createHash } from 'node:crypto';

/** RFC 4122 version-5 (name-based, SHA-1) UUID: the same name always gives the same id. */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// 2024-01-01T00:00:00Z: 41 bits of milliseconds from here last until the 2090s.
const EPOCH_MS = 1_704_067_200_000n;

/**
 * 64-bit message keys, snowflake style: 41 bits of milliseconds, 10 bits of node id, 12 bits of
 * sequence. Node ids come from a database sequence at start, so no two live nodes share one.
 * Keys stay increasing when the clock steps back (the last timestamp is reused).
 */
export class MsgKeyGenerator {
  private lastMs = 0n;
  private sequence = 0n;

  constructor(
    private readonly nodeId: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 1023) {
      throw new RangeError(`node id must be 0..1023, got ${nodeId}`);
    }
  }

  next(): string {
    let ms = BigInt(this.nowMs()) - EPOCH_MS;
    if (ms < this.lastMs) ms = this.lastMs;
    if (ms === this.lastMs) {
      this.sequence = (this.sequence + 1n) & 0xfffn;
      // 4096 keys in one millisecond: borrow the next millisecond.
      if (this.sequence === 0n) ms = this.lastMs + 1n;
    } else {
      this.sequence = 0n;
    }
    this.lastMs = ms;
    return ((ms << 22n) | (BigInt(this.nodeId) << 12n) | this.sequence).toString();
  }
}
