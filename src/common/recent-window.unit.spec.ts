import { RecentWindow } from './recent-window';

interface Item {
  readonly key: string;
  readonly n: number;
}
const item = (n: number, key = `k${n}`): Item => ({ key, n });
const empty = (capacity: number) => RecentWindow.empty<Item>(capacity, (i) => i.key);
const fill = (capacity: number, count: number) => {
  let w = empty(capacity);
  for (let n = 0; n < count; n++) w = w.push(item(n));
  return w;
};

describe('RecentWindow', () => {
  it('keeps exactly the last `capacity` entries, oldest first', () => {
    for (const count of [0, 1, 15, 16, 17, 255, 256, 257, 300, 1000]) {
      const w = fill(256, count);
      const expected = Array.from(
        { length: Math.min(count, 256) },
        (_, i) => count - Math.min(count, 256) + i,
      );
      expect([...w.values()].map((i) => i.n)).toEqual(expected);
      expect(w.size).toBe(expected.length);
    }
  });

  it('finds the newest entry with a key, and forgets evicted ones', () => {
    let w = fill(4, 6); // holds 2..5
    w = w.push(item(6, 'k3'));
    expect(w.get('k3')?.n).toBe(6);
    expect(w.has('k1')).toBe(false);
    expect(w.find((i) => i.n < 4)?.n).toBe(3);
  });

  it('does not change the window it was made from', () => {
    const a = fill(8, 20);
    const before = [...a.values()];
    const b = a.push(item(99));
    const c = a.update('k15', (i) => ({ ...i, n: -1 }));
    const d = a.push(item(100)); // a second branch from the same version
    expect([...a.values()]).toEqual(before);
    expect(b.get('k99')?.n).toBe(99);
    expect(b.has('k100')).toBe(false);
    expect(d.has('k99')).toBe(false);
    expect(c.get('k15')?.n).toBe(-1);
    expect(a.get('k15')?.n).toBe(15);
  });

  it('updates nothing when the key is absent', () => {
    const a = fill(8, 3);
    expect(a.update('nope', (i) => i)).toBe(a);
  });
});
