import { z } from 'zod';
import { UID_PATTERN, UID_RULE } from '../../accounts/commands/issue-token/get-token.request.dto';
import { Errors } from '../../common/errors';

/**
 * Reading the seed's query strings and form bodies. Every value arrives as text (or, from a JSON
 * body, a number). Names that change nothing here (`build`, `mobi_app`, `sender_device_id`) and
 * names the seed does not list (`web_location`, `w_rid`, `wts`, … that the web client adds) are
 * ignored rather than refused, as Bilibili does.
 */

/** `msg [ receiver_type ]` → `msg[receiver_type]`: a name with one bracketed part, trimmed. */
const BRACKETED = /^([^[\]]+)\[([^[\]]*)\]$/;

function normalizeName(name: string): string {
  const t = name.trim();
  const m = BRACKETED.exec(t);
  return m ? `${m[1].trim()}[${m[2].trim()}]` : t;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The fields of a parsed query or form body by their trimmed names, nested `msg[...]` objects (as
 * express's extended parser makes them) flattened back to `msg[name]`. The seed's own curl example
 * sends `msg[receiver_type] ` with a trailing space. Only own properties are read, into a
 * null-prototype object, so a `__proto__` or `constructor` field is just an unknown name. A name
 * given twice holds both values and fails validation (which one was meant is unknown).
 */
export function fieldsOf(source: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const put = (name: string, value: unknown) => {
    if (Object.hasOwn(out, name)) {
      const prev = out[name];
      out[name] = [...(Array.isArray(prev) ? prev : [prev]), value];
    } else {
      out[name] = value;
    }
  };
  if (!isPlainObject(source)) return out;
  for (const key of Object.keys(source)) {
    const value = source[key];
    const name = normalizeName(key);
    if (isPlainObject(value) && !name.includes('[')) {
      // One level only: `msg[a][b]` stays an object under `msg[a]` and fails as not a value.
      for (const sub of Object.keys(value)) put(`${name}[${sub.trim()}]`, value[sub]);
    } else {
      put(name, value);
    }
  }
  return out;
}

const U64_MAX = 18_446_744_073_709_551_615n;
const DECIMAL = /^[0-9]{1,20}$/;

function unsigned(v: unknown): bigint | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return DECIMAL.test(t) ? BigInt(t) : null;
}

const required = (ctx: z.RefinementCtx) => {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is required' });
  return z.NEVER;
};

/** An unsigned integer from 0 to `max`. */
export const uint = (max: number = Number.MAX_SAFE_INTEGER) =>
  z.unknown().transform((v, ctx): number => {
    if (v === undefined) return required(ctx);
    const n = unsigned(v);
    if (n === null || n > BigInt(max)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be an integer from 0 to ${max}` });
      return z.NEVER;
    }
    return Number(n);
  });

/**
 * A uint64 of the seed's protocol whose values here stay far below 2^53 (seqnos, microsecond
 * times): anything up to 2^64 - 1 is accepted, so a client may pass back the seed's
 * 18446744073709551615, and values past 2^53 - 1 clamp to it, which selects the same rows.
 */
export const uint64Bound = () =>
  z.unknown().transform((v, ctx): number => {
    if (v === undefined) return required(ctx);
    const n = unsigned(v);
    if (n === null || n > U64_MAX) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an unsigned 64-bit integer' });
      return z.NEVER;
    }
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  });

/** One of the listed integers. */
export const oneOf = <T extends number>(values: readonly T[]) =>
  uint().refine((n): n is T => (values as readonly number[]).includes(n), {
    message: `must be one of ${values.join(', ')}`,
  });

/**
 * A page size: absent or 0 (the protocol's unset value) is `fallback`, above `max` is `max`, as
 * the seed's "默认为 20,最大为 100" reads.
 */
export const pageSize = (fallback: number, max: number) =>
  uint(Number.MAX_SAFE_INTEGER)
    .optional()
    .transform((n) => (n === undefined || n === 0 ? fallback : Math.min(n, max)));

/** A user id (`talker_id`, `receiver_id`, `sender_uid`): the seed's mids, or names like `alice`. */
export const uid = () =>
  z.unknown().transform((v, ctx): string => {
    if (v === undefined) return required(ctx);
    const t = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
    if (typeof t !== 'string' || !UID_PATTERN.test(t.trim())) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a user id: ${UID_RULE}` });
      return z.NEVER;
    }
    return t.trim();
  });

/** A text field of at most `max` characters, kept as given (content is not trimmed). */
export const text = (max: number) =>
  z.unknown().transform((v, ctx): string => {
    if (v === undefined) return required(ctx);
    if (typeof v !== 'string' || v.length > max) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `must be text of at most ${max} characters`,
      });
      return z.NEVER;
    }
    return v;
  });

/**
 * Reads `source` (a parsed query or form body) with `schema`; a problem is a validation error
 * (-400 in the envelope) naming each field, as the native API names them.
 */
export function readParams<S extends z.ZodRawShape>(
  source: unknown,
  shape: S,
): z.output<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(fieldsOf(source));
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`);
  throw Errors.validation(problems.join('; '), problems);
}
