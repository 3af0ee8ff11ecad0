const CHUNK = 16;

/**
 * The last `capacity` entries of a stream of entries, immutable and cheap to extend: entries sit
 * in chunks of 16 shared between versions, so adding one copies at most two chunks and the chunk
 * list (about 50 references for 256 entries) instead of the whole window. Lookups scan from the
 * newest entry, which for a window of a few hundred entries costs less than hashing would save.
 */
export class RecentWindow<E> {
  private constructor(
    private readonly chunks: readonly (readonly E[])[],
    readonly size: number,
    readonly capacity: number,
    private readonly keyOf: (entry: E) => string,
  ) {}

  static empty<E>(capacity: number, keyOf: (entry: E) => string): RecentWindow<E> {
    return new RecentWindow<E>([], 0, capacity, keyOf);
  }

  /** A window with `entry` as the newest, and the oldest dropped when it is over capacity. */
  push(entry: E): RecentWindow<E> {
    const chunks = this.chunks.slice();
    const last = chunks[chunks.length - 1];
    if (last && last.length < CHUNK) chunks[chunks.length - 1] = [...last, entry];
    else chunks.push([entry]);
    let size = this.size + 1;
    if (size > this.capacity) {
      const first = chunks[0];
      if (first.length === 1) chunks.shift();
      else chunks[0] = first.slice(1);
      size -= 1;
    }
    return new RecentWindow(chunks, size, this.capacity, this.keyOf);
  }

  /** The newest entry with this key. */
  get(key: string): E | undefined {
    return this.find((e) => this.keyOf(e) === key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** The newest entry that satisfies `test`. */
  find(test: (entry: E) => boolean): E | undefined {
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c];
      for (let i = chunk.length - 1; i >= 0; i--) if (test(chunk[i])) return chunk[i];
    }
    return undefined;
  }

  /** A window where the newest entry with this key is replaced by `change(entry)`. */
  update(key: string, change: (entry: E) => E): RecentWindow<E> {
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c];
      for (let i = chunk.length - 1; i >= 0; i--) {
        if (this.keyOf(chunk[i]) !== key) continue;
        const chunks = this.chunks.slice();
        const copy = chunk.slice();
        copy[i] = change(chunk[i]);
        chunks[c] = copy;
        return new RecentWindow(chunks, this.size, this.capacity, this.keyOf);
      }
    }
    return this;
  }

  /** Oldest first. */
  *values(): IterableIterator<E> {
    for (const chunk of this.chunks) yield* chunk;
  }
}
