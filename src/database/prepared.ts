import { createHash } from 'node:crypto';

/** Most statement texts named; past it, texts are sent unnamed (planned on every call). */
const MAX_NAMED = 500;
const names = new Map<string, string>();

/**
 * `text` as a named statement for the pg driver, which prepares it once per connection: PostgreSQL
 * then plans it once, or after five calls settles on a plan for any parameters, instead of
 * planning it on every call. For statements whose planning costs more than running them (the
 * session list's: about 1.5 ms of planning to 0.3 ms of work; bench/README.md). The name is the
 * text's hash, so the same text always has the same name. A named statement is planned again when
 * a table it reads changes (a rebuild's swap) or the search path does (time travel).
 */
export function prepared(text: string): { name?: string; text: string } {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMED) return { text };
    name = `p_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return { name, text };
}
