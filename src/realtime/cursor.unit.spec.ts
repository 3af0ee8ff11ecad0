import { Position, START } from '../event-store/event-store.port';
import { decodeCursor, encodeCursor } from './cursor';
import { seeded } from '../../test/support/seeded-random';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER); // 2^53 - 1
const TWO_53 = 2n ** 53n;

const at = (commit: bigint, prepare: bigint): Position => ({ commit, prepare });

/** A cursor for raw numbers, as the server would write one, whatever their size. */
const textOf = (commit: bigint, prepare: bigint): string =>
  `${commit.toString(36)}.${prepare.toString(36)}`;

/** A random bigint in [0, 2^53 - 1], biased towards small and boundary values too. */
function randomPart(random: () => number): bigint {
  const pick = random();
  if (pick < 0.1) return BigInt(Math.floor(random() * 40));
  if (pick < 0.2) return MAX_SAFE - BigInt(Math.floor(random() * 40));
  const hi = BigInt(Math.floor(random() * 2 ** 21)); // top 21 bits
  const lo = BigInt(Math.floor(random() * 2 ** 32)); // low 32 bits
  return (hi << 32n) | lo;
}

describe('encodeCursor', () => {
  it('writes commit and prepare in base 36, separated by a dot', () => {
    expect(encodeCursor(START)).toBe('0.0');
    expect(encodeCursor(at(35n, 36n))).toBe('z.10');
    expect(encodeCursor(at(1295n, 1n))).toBe('zz.1');
  });

  it('writes the largest safe position in 11 characters a part', () => {
    expect(encodeCursor(at(MAX_SAFE, MAX_SAFE))).toBe('2gosa7pa2gv.2gosa7pa2gv');
  });
});

describe('decodeCursor', () => {
  describe('round trip', () => {
    it.each([
      ['the start of the log', START],
      ['a small position', at(1n, 2n)],
      ['a typical PostgreSQL position', at(748_213n, 91_004_377n)],
      ['a large commit and a zero prepare', at(MAX_SAFE, 0n)],
      ['a zero commit and a large prepare', at(0n, MAX_SAFE)],
      ['2^53 - 1 in both parts', at(MAX_SAFE, MAX_SAFE)],
      ['2^53 - 2 in both parts', at(MAX_SAFE - 1n, MAX_SAFE - 1n)],
      ['powers of 36 around part boundaries', at(36n ** 10n, 36n ** 10n - 1n)],
    ])('gives back %s', (_name, position) => {
      expect(decodeCursor(encodeCursor(position))).toEqual(position);
    });

    it('gives back bigints, not numbers', () => {
      const decoded = decodeCursor(encodeCursor(at(MAX_SAFE, 3n)));
      expect(typeof decoded?.commit).toBe('bigint');
      expect(typeof decoded?.prepare).toBe('bigint');
    });

    it('gives back every one of 2,000 seeded random positions up to 2^53 - 1', () => {
      const random = seeded(0x5eed_c0de);
      for (let i = 0; i < 2_000; i++) {
        const position = at(randomPart(random), randomPart(random));
        const text = encodeCursor(position);
        // Then: the text is a cursor the server accepts, and it names the same position.
        expect(text).toMatch(/^[0-9a-z]{1,11}\.[0-9a-z]{1,11}$/);
        const decoded = decodeCursor(text);
        if (decoded?.commit !== position.commit || decoded.prepare !== position.prepare) {
          const got = decoded ? encodeCursor(decoded) : 'null';
          throw new Error(
            `case ${i}: ${text} (${position.commit}.${position.prepare}) gave ${got}`,
          );
        }
      }
    });
  });

  describe('malformed text', () => {
    it.each([
      '',
      '.',
      '1',
      '1.',
      '.1',
      '1..1',
      '1.2.3',
      'A.1',
      '1.B',
      ' 1.1',
      '1.1 ',
      '1.1\n',
      '1_1',
      '1,1',
      '1:1',
      '+1.0',
      '1.+0',
      '0x1f.0',
      'ä.0',
      '１.０',
      '\u0000.0',
    ])('rejects %j', (text) => {
      expect(decodeCursor(text)).toBeNull();
    });
  });

  describe('negative values', () => {
    it.each(['-1.0', '0.-1', '-0.0', '-z.-z'])('rejects %j', (text) => {
      expect(decodeCursor(text)).toBeNull();
    });

    it('rejects what encoding a negative position would give', () => {
      expect(decodeCursor(encodeCursor(at(-5n, 3n)))).toBeNull();
      expect(decodeCursor(encodeCursor(at(5n, -3n)))).toBeNull();
    });
  });

  describe('leading zeros', () => {
    // The server never writes them, so one cursor has one text.
    it.each(['00.0', '0.00', '01.1', '1.01', '0000000000z.1', '1.0002gosa7pa2gv'])(
      'rejects %j',
      (text) => {
        expect(decodeCursor(text)).toBeNull();
      },
    );

    it('accepts a lone zero in either part', () => {
      expect(decodeCursor('0.0')).toEqual(START);
      expect(decodeCursor('0.z')).toEqual(at(0n, 35n));
      expect(decodeCursor('z.0')).toEqual(at(35n, 0n));
    });
  });

  describe('too long parts', () => {
    it.each([
      ['a 15-character commit', `${'1'.repeat(15)}.0`],
      ['a 15-character prepare', `0.${'1'.repeat(15)}`],
      ['a 15-character power of 36', `${(36n ** 14n).toString(36)}.0`],
      ['very long parts', `${'z'.repeat(100)}.${'z'.repeat(100)}`],
    ])('rejects %s', (_name, text) => {
      expect(decodeCursor(text)).toBeNull();
    });
  });

  describe('values beyond 2^53', () => {
    // parseInt loses precision there: such a cursor was never issued.
    it.each([
      ['2^53 + 1', TWO_53 + 1n],
      ['2^53 + 2', TWO_53 + 2n],
      ['2^53 + 3', TWO_53 + 3n],
      ['2^54', 2n ** 54n],
      ['2^63 - 1 (largest PostgreSQL bigint)', 2n ** 63n - 1n],
      ['2^64', 2n ** 64n],
      ['36^13 (the largest 14-character power of 36)', 36n ** 13n],
    ])('rejects %s as commit and as prepare', (_name, value) => {
      expect(decodeCursor(textOf(value, 0n))).toBeNull();
      expect(decodeCursor(textOf(0n, value))).toBeNull();
    });

    it('rejects any 14-character part, all of which are beyond 2^53', () => {
      const random = seeded(7);
      const digits = '0123456789abcdefghijklmnopqrstuvwxyz';
      for (let i = 0; i < 200; i++) {
        let part = digits[1 + Math.floor(random() * 35)];
        while (part.length < 14) part += digits[Math.floor(random() * 36)];
        expect(BigInt(parseInt(part, 36))).toBeGreaterThan(TWO_53);
        expect(decodeCursor(`${part}.0`)).toBeNull();
      }
    });
  });
});

describe('cursors of EventStoreDB positions', () => {
  it('carry a tag, so a cursor of one log is never taken for a position of the other', () => {
    const p = at(123_456n, 123_456n);
    const text = encodeCursor(p, 'eventstoredb');
    expect(text).toBe(`e.${textOf(p.commit, p.prepare)}`);
    expect(decodeCursor(text, 'eventstoredb')).toEqual(p);
    expect(decodeCursor(text, 'postgres')).toBeNull();
    expect(decodeCursor(encodeCursor(p, 'postgres'), 'eventstoredb')).toBeNull();
    expect(decodeCursor('e.e.1.1', 'eventstoredb')).toBeNull();
    expect(decodeCursor('e.01.1', 'eventstoredb')).toBeNull();
  });
});
