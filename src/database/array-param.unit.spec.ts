import { arrayParam } from './array-param';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };

describe('arrayParam', () => {
  it('writes what the pg driver writes for arrays of primitives', () => {
    const cases: unknown[][] = [
      [],
      ['a', 'b c', '', 'é😀', 'x,y', '{}', 'NULL', 'null'],
      ['say "hi"', 'back\\slash', '\\"', '"', '\\'],
      [1, -2, 0, 1.5, 9007199254740991, 12345678901234567890n],
      [true, false],
      [null, undefined, 'a', null],
      ['["u1","u2"]', '{"k":"v\\"w"}'],
      // Data of an unexpected kind: as the driver takes it.
      [{ a: 1, b: 'x"y' }, ['n', 2], Buffer.from('hi'), new Date(0)],
    ];
    for (const values of cases) expect(arrayParam(values)).toBe(prepareValue(values));
  });
});
