import { MsgKeyGenerator, uuidV5 } from './ids';

const NAMESPACE_DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

// 2024-01-01T00:00:00Z, the generator's epoch.
const EPOCH_MS = 1_704_067_200_000;
const NOW_MS = Date.UTC(2025, 5, 1, 12, 0, 0);

/** Splits a key into its snowflake fields. */
function decode(key: string): { ms: bigint; node: number; seq: number } {
  const k = BigInt(key);
  return { ms: k >> 22n, node: Number((k >> 12n) & 0x3ffn), seq: Number(k & 0xfffn) };
}

/** A clock that returns the given readings in turn, then keeps the last one. */
function clockOf(...readings: number[]): () => number {
  let i = 0;
  return () => readings[Math.min(i++, readings.length - 1)];
}

function expectStrictlyIncreasing(keys: readonly string[]): void {
  for (let i = 1; i < keys.length; i++) {
    if (BigInt(keys[i]) <= BigInt(keys[i - 1])) {
      throw new Error(`key ${i} (${keys[i]}) is not above key ${i - 1} (${keys[i - 1]})`);
    }
  }
}

describe('uuidV5', () => {
  // Vectors computed with Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com') etc.
  it.each([
    ['www.example.com', NAMESPACE_DNS, '2ed6657d-e927-568b-95e1-2665a8aea6a2'],
    ['python.org', NAMESPACE_DNS, '886313e1-3b8a-5372-9b90-0c9aee199e5d'],
    ['https://example.com/', NAMESPACE_URL, 'dd2c1780-811a-5296-81c5-178a0ef488bc'],
    ['', NAMESPACE_DNS, '4ebd0208-8328-5d69-8c44-ec50939c0967'],
    ['ünïcødé 😀', NAMESPACE_DNS, 'f514a4fb-7b3b-50b1-a8cd-c5bdd73699e0'],
  ])('names %j in %s as %s', (name, namespace, expected) => {
    expect(uuidV5(name, namespace)).toBe(expected);
  });

  it('accepts the namespace in upper case', () => {
    expect(uuidV5('www.example.com', NAMESPACE_DNS.toUpperCase())).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('sets the version 5 and RFC 4122 variant bits', () => {
    for (let i = 0; i < 200; i++) {
      expect(uuidV5(`name-${i}`, NAMESPACE_URL)).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
  });

  it('depends on the namespace', () => {
    expect(uuidV5('x', NAMESPACE_DNS)).not.toBe(uuidV5('x', NAMESPACE_URL));
  });
});

describe('MsgKeyGenerator', () => {
  it('issues decimal keys made of time since 2024, node id and sequence', () => {
    const keys = new MsgKeyGenerator(7, () => NOW_MS);
    const first = keys.next();
    expect(first).toMatch(/^[1-9][0-9]*$/);
    expect(decode(first)).toEqual({ ms: BigInt(NOW_MS - EPOCH_MS), node: 7, seq: 0 });
    expect(decode(keys.next())).toEqual({ ms: BigInt(NOW_MS - EPOCH_MS), node: 7, seq: 1 });
  });

  it('keeps keys strictly increasing and unique over 100k calls with a fixed clock', () => {
    const keys = new MsgKeyGenerator(1, () => NOW_MS);
    const issued = Array.from({ length: 100_000 }, () => keys.next());
    expectStrictlyIncreasing(issued);
    expect(new Set(issued).size).toBe(issued.length);
  });

  it('borrows the next millisecond when 4096 keys are issued in one', () => {
    const keys = new MsgKeyGenerator(3, () => NOW_MS);
    const issued = Array.from({ length: 4097 }, () => keys.next());
    const base = BigInt(NOW_MS - EPOCH_MS);
    expect(decode(issued[4095])).toEqual({ ms: base, node: 3, seq: 4095 });
    expect(decode(issued[4096])).toEqual({ ms: base + 1n, node: 3, seq: 0 });
  });

  it('keeps going from a borrowed millisecond until the clock catches up', () => {
    let now = NOW_MS;
    const keys = new MsgKeyGenerator(3, () => now);
    const issued = Array.from({ length: 4096 * 3 + 10 }, () => keys.next());
    const base = BigInt(NOW_MS - EPOCH_MS);
    expect(decode(issued[issued.length - 1]).ms).toBe(base + 3n);
    now = NOW_MS + 2; // behind the borrowed milliseconds
    issued.push(keys.next());
    now = NOW_MS + 10; // ahead again: a fresh millisecond starts its sequence at 0
    issued.push(keys.next());
    expectStrictlyIncreasing(issued);
    expect(decode(issued[issued.length - 1])).toEqual({ ms: base + 10n, node: 3, seq: 0 });
  });

  it('stays increasing when the clock goes backwards', () => {
    const keys = new MsgKeyGenerator(
      5,
      clockOf(NOW_MS, NOW_MS + 50, NOW_MS - 1_000, NOW_MS + 49, NOW_MS - 60_000, NOW_MS + 51),
    );
    const issued = Array.from({ length: 8 }, () => keys.next());
    expectStrictlyIncreasing(issued);
    // The step back reuses the last timestamp instead of going back in time.
    const base = BigInt(NOW_MS - EPOCH_MS);
    expect(issued.map((k) => decode(k).ms)).toEqual([
      base,
      base + 50n,
      base + 50n,
      base + 50n,
      base + 50n,
      base + 51n,
      base + 51n,
      base + 51n,
    ]);
  });

  it('never issues a negative key for a clock before its epoch', () => {
    const keys = new MsgKeyGenerator(2, () => 0);
    const issued = Array.from({ length: 5 }, () => keys.next());
    expectStrictlyIncreasing(issued);
    for (const k of issued) expect(BigInt(k)).toBeGreaterThan(0n);
  });

  it.each([0, 1, 512, 1023])('embeds node id %d in every key', (nodeId) => {
    const keys = new MsgKeyGenerator(nodeId, () => NOW_MS);
    for (let i = 0; i < 5000; i++) expect(decode(keys.next()).node).toBe(nodeId);
  });

  it('gives different nodes different keys for the same millisecond', () => {
    const one = new MsgKeyGenerator(1, () => NOW_MS);
    const two = new MsgKeyGenerator(2, () => NOW_MS);
    const issued = Array.from({ length: 100 }, () => [one.next(), two.next()]).flat();
    expect(new Set(issued).size).toBe(200);
  });

  it('fits keys in a signed 64-bit integer up to the last millisecond of its 41 bits', () => {
    const lastMs = EPOCH_MS + 2 ** 41 - 1;
    const keys = new MsgKeyGenerator(1023, () => lastMs);
    let key = '';
    for (let i = 0; i < 4096; i++) key = keys.next();
    expect(decode(key)).toEqual({ ms: BigInt(2 ** 41 - 1), node: 1023, seq: 4095 });
    expect(BigInt(key)).toBeLessThan(2n ** 63n);
    expect(BigInt.asIntN(64, BigInt(key))).toBe(BigInt(key));
  });

  it('uses the wall clock by default', () => {
    const before = BigInt(Date.now() - EPOCH_MS);
    const { ms } = decode(new MsgKeyGenerator(9).next());
    const after = BigInt(Date.now() - EPOCH_MS);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
    expect(BigInt(new MsgKeyGenerator(9).next())).toBeLessThan(2n ** 63n);
  });

  it.each([-1, 1024, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects node id %p', (nodeId) => {
    expect(() => new MsgKeyGenerator(nodeId)).toThrow(RangeError);
    expect(() => new MsgKeyGenerator(nodeId)).toThrow(/node id must be 0\.\.1023/);
  });

  it.each([0, 1023])('accepts node id %d', (nodeId) => {
    expect(() => new MsgKeyGenerator(nodeId)).not.toThrow();
  });
});
