/** The pg driver's conversion of a query parameter (pg/lib/utils has no type declarations). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { prepareValue } = require('pg/lib/utils') as {
  prepareValue: (value: unknown) => unknown;
};
const driverArray = (values: readonly unknown[]) => prepareValue(values) as string;

/** A text that must be escaped inside an array literal's quotes. */
const NEEDS_ESCAPE = /["\\]/;

/**
 * `values` as a PostgreSQL array literal (`{"a","b",NULL,5}`), to pass as a query parameter (of
 * any array type: `$1::text[]`, `$2::bigint[]`, `$3::jsonb[]`): what the pg driver writes for a
 * flat array of primitives, but each text is escaped only when it holds a quote or a backslash
 * (the driver runs two replacements on every element; bulk loads pass tens of thousands per
 * statement). null and undefined are NULL; numbers, bigints and booleans their text; other
 * values as the driver takes them (an object as its JSON).
 */
export function arrayParam(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) {
      out += 'NULL';
    } else if (typeof v === 'string') {
      out += NEEDS_ESCAPE.test(v) ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${v}"`;
    } else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
      out += `"${String(v)}"`;
    } else {
      // Anything else (data of an unexpected kind): the driver's own conversion, one element.
      out += driverArray([v]).slice(1, -1);
    }
  }
  return `${out}}`;
}
