import { DomainError } from '../../common/errors';
import { toBilibiliCode } from '../../common/http/error.filter';
import {
  fieldsOf,
  oneOf,
  pageSize,
  readParams,
  text,
  uid,
  uint,
  uint64Bound,
} from './bilibili-params';
import { parseCookies } from './cookies';

describe('fieldsOf', () => {
  it('flattens msg[...] back to bracketed names, trimming the spaces around names', () => {
    // Given what express's extended parser makes of the seed's send_msg form
    const parsed = { msg: { sender_uid: '1', ' receiver_type ': '1' }, csrf: 'x' };
    // Then each field is found under its bracketed name
    expect({ ...fieldsOf(parsed) }).toEqual({
      'msg[sender_uid]': '1',
      'msg[receiver_type]': '1',
      csrf: 'x',
    });
    // And flat bracketed names (a parser that leaves them) read the same
    expect({ ...fieldsOf({ ' msg [receiver_type] ': '1', 'csrf ': 'x' }) }).toEqual({
      'msg[receiver_type]': '1',
      csrf: 'x',
    });
  });

  it('reads only own properties into an object without a prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": 1}, "msg": {"constructor": "x"}}');
    const fields = fieldsOf(parsed);
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect(fields['msg[constructor]']).toBe('x');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(fieldsOf('text')).toEqual(Object.create(null));
    expect({ ...fieldsOf(['a']) }).toEqual({});
  });

  it('keeps both values of a name given twice, so that validation refuses it', () => {
    const fields = fieldsOf({ msg: { a: '1' }, 'msg[a]': '2' });
    expect(fields['msg[a]']).toEqual(['1', '2']);
  });
});

describe('readParams', () => {
  const problem = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      return (err as DomainError).message;
    }
    throw new Error('expected a validation error');
  };

  it('reads integers from text, names each bad field, and ignores names it does not know', () => {
    const shape = {
      size: pageSize(20, 100),
      session_type: oneOf([1, 2] as const),
      talker_id: uid(),
    };
    expect(
      readParams({ size: '3', session_type: '1', talker_id: '42', w_rid: 'x' }, shape),
    ).toEqual({
      size: 3,
      session_type: 1,
      talker_id: '42',
    });
    const msg = problem(() => readParams({ size: '-1', session_type: '3' }, shape));
    expect(msg).toMatch(/size/);
    expect(msg).toMatch(/session_type must be one of 1, 2/);
    expect(msg).toMatch(/talker_id is required/);
    expect(problem(() => readParams({ n: '1.5' }, { n: uint() }))).toMatch(/n must be an integer/);
    expect(problem(() => readParams({ n: ['1', '2'] }, { n: uint() }))).toMatch(/n must/);
    // `msg[content][x]=1` parses to an object where text is expected
    const nested = { msg: { content: { x: '1' } } };
    expect(problem(() => readParams(nested, { 'msg[content]': text(10) }))).toMatch(
      /msg\[content\] must be text/,
    );
  });

  it('defaults and caps page sizes as the seed describes', () => {
    const shape = { size: pageSize(20, 100) };
    expect(readParams({}, shape).size).toBe(20);
    expect(readParams({ size: '0' }, shape).size).toBe(20);
    expect(readParams({ size: '1000' }, shape).size).toBe(100);
  });

  it('accepts the seed uint64 range for seqnos and times, clamping past 2^53 - 1', () => {
    const shape = { end_seqno: uint64Bound() };
    expect(readParams({ end_seqno: '18446744073709551615' }, shape).end_seqno).toBe(
      Number.MAX_SAFE_INTEGER,
    );
    expect(readParams({ end_seqno: '12' }, shape).end_seqno).toBe(12);
    expect(problem(() => readParams({ end_seqno: '18446744073709551616' }, shape))).toMatch(
      /end_seqno must be an unsigned 64-bit integer/,
    );
  });
});

describe('parseCookies', () => {
  it('reads SESSDATA and bili_jct as a browser sends them', () => {
    const c = parseCookies('SESSDATA=a%2Cb.c; bili_jct=xyz ; other="q"; SESSDATA=second; bad');
    expect(c.get('SESSDATA')).toBe('a,b.c');
    expect(c.get('bili_jct')).toBe('xyz');
    expect(c.get('other')).toBe('q');
    expect(parseCookies('x=%E0%A4%A').get('x')).toBe('%E0%A4%A');
    expect(parseCookies(undefined).size).toBe(0);
  });
});

describe('toBilibiliCode', () => {
  it("keeps the seed's codes and maps ours to Bilibili's general codes", () => {
    for (const seed of [10005, 21007, 21020, 21026, 21035, 21037, 21041, 21042, 21046, 21047]) {
      expect(toBilibiliCode(seed, 400)).toBe(seed);
    }
    expect(toBilibiliCode(25003, 403)).toBe(25003);
    expect(toBilibiliCode(25005, 403)).toBe(25005);
    expect(toBilibiliCode(1000004, 404)).toBe(1000004);
    expect(toBilibiliCode(-111, 403)).toBe(-111);
    expect([40100, 40101, 40102].map((c) => toBilibiliCode(c, 401))).toEqual([-101, -101, -101]);
    expect(toBilibiliCode(40000, 400)).toBe(-400);
    expect(toBilibiliCode(41300, 413)).toBe(-400);
    expect(toBilibiliCode(40300, 403)).toBe(-403);
    expect(toBilibiliCode(40401, 404)).toBe(-404);
    expect(toBilibiliCode(50000, 500)).toBe(-500);
    expect(toBilibiliCode(50301, 503)).toBe(-503);
  });
});
