/** A msg_key as clients send it: a decimal string (or number) of a positive signed 64-bit id. */
const DIGITS = /^[1-9][0-9]{0,18}$/;
const MAX = 9_223_372_036_854_775_807n;

/** @returns the canonical decimal text of a msg_key, or null when it is not one. */
export function parseMsgKey(text: string): string | null {
  const t = text.trim();
  if (!DIGITS.test(t) || BigInt(t) > MAX) return null;
  return t;
}
