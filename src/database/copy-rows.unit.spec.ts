import { copyField, copyText } from './copy-rows';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };

/** COPY's text format read back: what PostgreSQL takes a field for (null for \N). */
function readField(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
}

describe('copyField', () => {
  it('gives PostgreSQL the text the driver would send as a parameter, for every kind of value', () => {
    const values: unknown[] = [
      'plain',
      '',
      'é😀',
      'tab\there',
      'line\nbreak\r\n',
      'back\\slash \\N \\t',
      '\\',
      'NULL',
      1,
      -2.5,
      12345678901234567890n,
      true,
      false,
      { a: 1, b: 'x\ty' },
      ['n', 'a"b', null],
      new Date(0),
    ];
    for (const v of values) {
      const field = copyField(v);
      // One field on one row: no raw separator survives.
      expect(field).not.toMatch(/[\t\n\r]/);
      expect(readField(field)).toBe(prepareValue(v));
    }
  });

  it('writes null and undefined as NULL, and a text "\\N" as itself', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField(undefined)).toBe('\\N');
    expect(readField(copyField('\\N'))).toBe('\\N');
  });

  it('writes a Buffer as bytea text', () => {
    expect(readField(copyField(Buffer.from('hi')))).toBe('\\x6869');
  });
});

describe('copyText', () => {
  it('writes one line per row, fields separated by tabs', () => {
    expect(
      copyText([
        ['a', 1, null],
        ['b\tc', true, 'd\ne'],
      ]),
    ).toBe('a\t1\t\\N\nb\\tc\ttrue\td\\ne\n');
  });
});
