import { DomainError } from '../../common/errors';
import {
  AuditQueryInput,
  decodeAuditCursor,
  encodeAuditCursor,
  parseAuditQuery,
  parseInstant,
} from './audit-query';

/** The 400 a bad input gets, with its stable code and message. */
function refusal(input: AuditQueryInput): { status: number; code: number; message: string } {
  try {
    parseAuditQuery(input);
  } catch (err) {
    if (err instanceof DomainError) {
      return { status: err.status, code: err.code, message: err.message };
    }
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('audit query parsing', () => {
  it('defaults to the newest 100 events with no filter', () => {
    expect(parseAuditQuery({})).toEqual({ limit: 100 });
  });

  it('reads an actor as kind:id, the id keeping its own colons, or a kind alone', () => {
    expect(parseAuditQuery({ actor: 'user:alice' }).actor).toEqual({ kind: 'user', id: 'alice' });
    expect(parseAuditQuery({ actor: 'admin:cli:root' }).actor).toEqual({
      kind: 'admin',
      id: 'cli:root',
    });
    expect(parseAuditQuery({ actor: 'system' }).actor).toEqual({ kind: 'system' });
  });

  it('takes several types, repeated or separated by commas, once each', () => {
    expect(
      parseAuditQuery({ types: ['MessageSent,MessageRecalled', 'MessageSent'] }).types,
    ).toEqual(['MessageSent', 'MessageRecalled']);
  });

  it('reads a date as midnight UTC and a date-time in its zone, to the microsecond', () => {
    expect(parseInstant('2026-12-05', 'from').text).toBe('2026-12-05T00:00:00.000000Z');
    expect(parseInstant('2026-12-05T17:30:00+08:00', 'from').text).toBe(
      '2026-12-05T09:30:00.000000Z',
    );
    expect(parseInstant('2026-12-05T09:30:00.1234567Z', 'from').text).toBe(
      '2026-12-05T09:30:00.123456Z',
    );
    expect(parseInstant('2024-02-29T23:59:59-0130', 'from').text).toBe(
      '2024-03-01T01:29:59.000000Z',
    );
    expect(parseAuditQuery({ from: '2026-12-05', to: '2026-12-06' })).toMatchObject({
      from: { text: '2026-12-05T00:00:00.000000Z', us: 1_796_428_800_000_000n },
      to: { text: '2026-12-06T00:00:00.000000Z' },
    });
  });

  it('accepts an empty range (from = to) but refuses from after to', () => {
    expect(parseAuditQuery({ from: '2026-12-05', to: '2026-12-05T00:00:00Z' }).limit).toBe(100);
    expect(refusal({ from: '2026-12-06', to: '2026-12-05T23:59:59.999999Z' })).toEqual({
      status: 400,
      code: 40000,
      message: 'from must not be after to',
    });
  });

  it.each([
    ['yesterday'],
    ['2026-02-29'],
    ['2026-13-01'],
    ['2026-12-05T24:00:00Z'],
    ['2026-12-05T10:00:00'],
    ['2026-12-05T10:00:60Z'],
    ['2026-12-05T10:00:00+16:00'],
    ['0999-12-31'],
    ['1765000000'],
    [''],
  ])('refuses the time %j with 40000', (time) => {
    expect(refusal({ from: time })).toMatchObject({ status: 400, code: 40000 });
    expect(refusal({ to: time }).message).toMatch(/^to /);
  });

  const badInputs: [AuditQueryInput, RegExp][] = [
    [{ actor: 'robot:r2d2' }, /^actor must be <kind> or <kind>:<id>/],
    [{ actor: 'user:' }, /^actor: the id after "user:" is empty/],
    [{ actor: '' }, /^actor must be 1 to 512 characters/],
    [{ limit: 0 }, /^limit must be an integer from 1 to 1000/],
    [{ limit: 1001 }, /^limit/],
    [{ limit: 2.5 }, /^limit/],
    [{ cursor: 'zz' }, /^cursor: pass back next_cursor/],
    [{ cursor: '01.1' }, /^cursor/],
    [{ cursor: 'zzzzzzzzzzzzz.1' }, /^cursor/],
    [{ types: ['Message Sent'] }, /^type must be event types/],
    [{ types: ['*'] }, /^type/],
    [{ types: [Array.from({ length: 21 }, (_, i) => `T${i}`).join(',')] }, /^type: at most 20/],
    [{ category: 'conversation-x' }, /^category/],
    [{ action: 'kicked; DROP' }, /^action/],
    [{ stream: 'x'.repeat(513) }, /^stream must be 1 to 512/],
    [{ subject: '' }, /^subject/],
  ];
  it.each(
    badInputs.map(([input, message]) => [JSON.stringify(input).slice(0, 48), input, message]),
  )('refuses %s with 40000', (_name, input, message) => {
    const r = refusal(input);
    expect(r).toMatchObject({ status: 400, code: 40000 });
    expect(r.message).toMatch(message);
  });

  it('makes cursors of positions and reads back only its own', () => {
    const position = { commit: 9_007_199_254_740_993n, prepare: 42n };
    expect(decodeAuditCursor(encodeAuditCursor(position))).toEqual(position);
    expect(decodeAuditCursor(encodeAuditCursor({ commit: 0n, prepare: 0n }))).toEqual({
      commit: 0n,
      prepare: 0n,
    });
    // Beyond a bigint, not base 36, or padded
    expect(decodeAuditCursor(`${(1n << 63n).toString(36)}.0`)).toBeNull();
    expect(decodeAuditCursor('A.1')).toBeNull();
    expect(decodeAuditCursor('1.01')).toBeNull();
  });
});
