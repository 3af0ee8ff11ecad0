import { idValue, JsonNumber, stringifyRaw } from './raw-json';

describe('stringifyRaw', () => {
  it('writes 64-bit ids as bare number literals, digit for digit', () => {
    // Given a msg_key above 2^53 and the seed's empty-history sentinel
    const value = {
      msg_key: JsonNumber.of('7354295169819585966'),
      min_seqno: JsonNumber.of('18446744073709551615'),
    };
    // Then the text holds them exactly, where JSON.stringify of numbers would round them
    expect(stringifyRaw(value)).toBe(
      '{"msg_key":7354295169819585966,"min_seqno":18446744073709551615}',
    );
    expect(JSON.stringify(Number('7354295169819585966'))).not.toBe('7354295169819585966');
  });

  it('writes everything else as JSON.stringify does, leaving undefined properties out', () => {
    const value = {
      s: 'a"b\n\u2028ç',
      n: 1.5,
      b: false,
      z: null,
      u: undefined,
      list: [1, 'x', null, undefined, { k: [] }],
      nested: { e: {} },
    };
    expect(stringifyRaw(value)).toBe(JSON.stringify(value));
    expect(JSON.parse(stringifyRaw(value))).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('refuses what JSON cannot hold instead of writing null', () => {
    expect(() => stringifyRaw({ n: NaN })).toThrow(RangeError);
    expect(() => stringifyRaw({ n: 10n })).toThrow(TypeError);
  });
});

describe('idValue', () => {
  it('makes canonical decimal ids numbers and keeps every other id a string', () => {
    expect(stringifyRaw([idValue('293793435'), idValue('0')])).toBe('[293793435,0]');
    expect(stringifyRaw([idValue('alice'), idValue('007'), idValue('-1'), idValue('1e3')])).toBe(
      '["alice","007","-1","1e3"]',
    );
  });

  it('never builds a number literal from anything but digits', () => {
    expect(() => JsonNumber.of('1,2')).toThrow(RangeError);
    expect(() => JsonNumber.of('01')).toThrow(RangeError);
    expect(() => JsonNumber.of('')).toThrow(RangeError);
  });
});
