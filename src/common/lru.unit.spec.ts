import { Lru } from './lru';

/** The candidates still held, in the order given (probing with get refreshes them in that order). */
function held<V>(lru: Lru<string, V>, candidates: readonly string[]): string[] {
  return candidates.filter((k) => lru.get(k) !== undefined);
}

describe('Lru', () => {
  it('returns what was set and undefined for what was not', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    expect(lru.get('a')).toBe(1);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.size).toBe(1);
  });

  it('replaces the value of a key without growing', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('a', 2);
    expect(lru.get('a')).toBe(2);
    expect(lru.size).toBe(1);
  });

  it('forgets the least recently set entry first when full', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    lru.set('d', 4);
    expect(lru.size).toBe(3);
    expect(lru.get('a')).toBeUndefined();
    expect(held(lru, ['b', 'c', 'd'])).toEqual(['b', 'c', 'd']);
  });

  it('counts a get as a use', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.get('a')).toBe(1);
    lru.set('d', 4);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
  });

  it('counts a set of an existing key as a use', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    lru.set('a', 10);
    lru.set('d', 4);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(10);
  });

  it('does not count a miss as a use of anything', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('zzz')).toBeUndefined();
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    expect(lru.get('a')).toBeUndefined();
  });

  it('refreshes falsy values like any other', () => {
    const lru = new Lru<string, number | null>(2);
    lru.set('zero', 0);
    lru.set('null', null);
    expect(lru.get('zero')).toBe(0);
    lru.set('x', 1);
    expect(lru.get('null')).toBeUndefined();
    expect(lru.get('zero')).toBe(0);
  });

  it('deletes an entry, and ignores a key it does not hold', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.delete('a');
    lru.delete('nope');
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('b')).toBe(2);
    expect(lru.size).toBe(1);
  });

  it('has room again after a delete', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.delete('a');
    lru.set('c', 3);
    expect(held(lru, ['b', 'c'])).toEqual(['b', 'c']);
  });

  it('never holds more than its maximum', () => {
    const lru = new Lru<number, number>(100);
    for (let i = 0; i < 10_000; i++) {
      lru.set(i, i);
      if (i % 7 === 0) lru.get(i - 50);
      expect(lru.size).toBeLessThanOrEqual(100);
    }
    expect(lru.size).toBe(100);
    expect(lru.get(9_999)).toBe(9_999);
    expect(lru.get(9_899)).toBeUndefined();
  });

  it('holds a single entry with a maximum of 1', () => {
    const lru = new Lru<string, number>(1);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('b')).toBe(2);
    expect(lru.size).toBe(1);
  });

  it('holds nothing with a maximum of 0', () => {
    const lru = new Lru<string, number>(0);
    lru.set('a', 1);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('keeps object keys by identity', () => {
    const k1 = { id: 1 };
    const lru = new Lru<object, string>(2);
    lru.set(k1, 'one');
    expect(lru.get(k1)).toBe('one');
    expect(lru.get({ id: 1 })).toBeUndefined();
  });
});
