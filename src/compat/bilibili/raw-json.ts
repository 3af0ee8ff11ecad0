/**
 * JSON with 64-bit integers written as bare number literals, digit for digit.
 *
 * The seed's clients read `msg_key`, `talker_id`, `sender_uid`, `receiver_id` and the empty
 * history's `min_seqno` (18446744073709551615) as JSON numbers; most are above 2^53, where a JS
 * number would round them. Those values travel through this server as decimal strings and are
 * wrapped in {@link JsonNumber} only at the edge, so no float ever holds them.
 */

/** A non-negative integer in canonical decimal form (no sign, no leading zero). */
const CANONICAL_DIGITS = /^(0|[1-9][0-9]*)$/;

/** A decimal integer to write as a bare JSON number literal. */
export class JsonNumber {
  private constructor(readonly digits: string) {}

  /** @throws RangeError when `digits` is not a canonical non-negative decimal integer. */
  static of(digits: string): JsonNumber {
    if (!CANONICAL_DIGITS.test(digits)) throw new RangeError(`not a decimal integer: ${digits}`);
    return new JsonNumber(digits);
  }
}

/**
 * An id as the seed shows it: a JSON number when it is a canonical decimal integer (`293793435`),
 * otherwise a JSON string. This product's user ids may be names like `alice`, and `007` is kept
 * a string because a number would lose its zeros.
 */
export function idValue(id: string): JsonNumber | string {
  return CANONICAL_DIGITS.test(id) ? JsonNumber.of(id) : id;
}

/**
 * `JSON.stringify` for plain data that may hold {@link JsonNumber}s. Object properties that are
 * `undefined` are left out, as `JSON.stringify` does; non-finite numbers are an error, not `null`.
 */
export function stringifyRaw(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof JsonNumber) return value.digits;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? 'null' : stringifyRaw(v))).join(',')}]`;
      }
      return `{${Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${JSON.stringify(k)}:${stringifyRaw(v)}`)
        .join(',')}}`;
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}
