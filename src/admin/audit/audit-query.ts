import { Errors } from '../../common/errors';
import type { Actor, Position } from '../../event-store/event-store.port';

/** Who caused an event, as the audit filters it: a kind, and optionally one id of that kind. */
export interface ActorFilter {
  readonly kind: Actor['kind'];
  /** Absent: every actor of the kind (`actor=admin`: everything administrators did). */
  readonly id?: string;
}

/** An audit query, validated: every filter given is ANDed with the others. */
export interface AuditQuery {
  readonly actor?: ActorFilter;
  readonly stream?: string;
  readonly category?: string;
  /** One or several event types (any of them). */
  readonly types?: readonly string[];
  /** What the event did, where a type covers several actions (`kicked`, `sys_cancel`). */
  readonly action?: string;
  /** Recorded at or after this instant (inclusive). */
  readonly from?: Instant;
  /** Recorded before this instant (exclusive). */
  readonly to?: Instant;
  readonly correlationId?: string;
  readonly subject?: string;
  /** Strictly older than this position (the last event of the previous page). */
  readonly before?: Position;
  readonly limit: number;
}

/** An instant to the microsecond: since the epoch, and as UTC text for PostgreSQL. */
export interface Instant {
  readonly us: bigint;
  readonly text: string;
}

/** A query as it arrives, from REST query parameters or CLI options (all text). */
export interface AuditQueryInput {
  readonly actor?: string;
  readonly stream?: string;
  readonly category?: string;
  /** Each element may hold several types separated by commas. */
  readonly types?: readonly string[];
  readonly action?: string;
  readonly from?: string;
  readonly to?: string;
  readonly correlationId?: string;
  readonly subject?: string;
  readonly cursor?: string;
  readonly limit?: number;
}

/** How each input is called where it came from, for error messages. */
export type AuditInputNames = Readonly<Record<keyof AuditQueryInput, string>>;

/** The REST API's query parameters. */
export const REST_NAMES: AuditInputNames = {
  actor: 'actor',
  stream: 'stream',
  category: 'category',
  types: 'type',
  action: 'action',
  from: 'from',
  to: 'to',
  correlationId: 'correlation_id',
  subject: 'subject',
  cursor: 'cursor',
  limit: 'limit',
};

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const MAX_TYPES = 20;
/** Longest filter value: the audit index keeps at most this much of each text. */
export const MAX_TEXT = 512;

export const ACTOR_KINDS: readonly Actor['kind'][] = ['user', 'admin', 'system'];
/** An event type: frozen PascalCase (`MessageSent`). */
const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
/** A category is a stream id's part before its first dash. */
const CATEGORY_PATTERN = /^[^-\s]{1,128}$/;
/** An action: a short code (`kicked`, `sys_cancel`, `completed`). */
const ACTION_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

/**
 * Validates and normalises an audit query. Times are ISO-8601: a date (`2026-12-05`, midnight
 * UTC) or a date and time with a zone (`2026-12-05T09:00:00Z`, `…+08:00`, fractions down to the
 * microsecond); `from` is inclusive, `to` exclusive.
 * @throws DomainError 40000 naming the input that is wrong.
 */
export function parseAuditQuery(
  input: AuditQueryInput,
  names: AuditInputNames = REST_NAMES,
): AuditQuery {
  const text = (key: keyof AuditQueryInput, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    if (value.length === 0 || value.length > MAX_TEXT) {
      throw Errors.validation(`${names[key]} must be 1 to ${MAX_TEXT} characters`);
    }
    return value;
  };

  const limit = input.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw Errors.validation(`${names.limit} must be an integer from 1 to ${MAX_LIMIT}`);
  }

  let actor: ActorFilter | undefined;
  if (input.actor !== undefined) {
    const raw = text('actor', input.actor)!;
    const colon = raw.indexOf(':');
    const kind = colon < 0 ? raw : raw.slice(0, colon);
    if (!(ACTOR_KINDS as readonly string[]).includes(kind)) {
      throw Errors.validation(
        `${names.actor} must be <kind> or <kind>:<id> with kind user, admin or system ` +
          `(e.g. user:alice, admin:admin-key), not ${JSON.stringify(raw)}`,
      );
    }
    const id = colon < 0 ? undefined : raw.slice(colon + 1);
    if (id === '') throw Errors.validation(`${names.actor}: the id after "${kind}:" is empty`);
    actor = { kind: kind as Actor['kind'], ...(id === undefined ? {} : { id }) };
  }

  const category = text('category', input.category);
  if (category !== undefined && !CATEGORY_PATTERN.test(category)) {
    throw Errors.validation(
      `${names.category} is the part of a stream id before its first dash (e.g. conversation, group)`,
    );
  }

  let types: string[] | undefined;
  if (input.types !== undefined && input.types.length > 0) {
    types = [...new Set(input.types.flatMap((t) => t.split(',')).map((t) => t.trim()))];
    const bad = types.find((t) => !TYPE_PATTERN.test(t));
    if (bad !== undefined) {
      throw Errors.validation(
        `${names.types} must be event types such as MessageSent, not ${JSON.stringify(bad)}`,
      );
    }
    if (types.length > MAX_TYPES) {
      throw Errors.validation(`${names.types}: at most ${MAX_TYPES} event types`);
    }
  }

  if (input.action !== undefined && !ACTION_PATTERN.test(input.action)) {
    throw Errors.validation(
      `${names.action} must be an action such as kicked, quit or sys_cancel (docs/admin/audit.md)`,
    );
  }

  const from = input.from === undefined ? undefined : parseInstant(input.from, names.from);
  const to = input.to === undefined ? undefined : parseInstant(input.to, names.to);
  if (from && to && from.us > to.us) {
    throw Errors.validation(`${names.from} must not be after ${names.to}`);
  }

  let before: Position | undefined;
  if (input.cursor !== undefined) {
    const decoded = decodeAuditCursor(input.cursor);
    if (!decoded) {
      throw Errors.validation(`${names.cursor}: pass back next_cursor of the previous page`);
    }
    before = decoded;
  }

  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    value === undefined ? {} : ({ [key]: value } as Record<K, V>);
  return {
    ...optional('actor', actor),
    ...optional('stream', text('stream', input.stream)),
    ...optional('category', category),
    ...optional('types', types),
    ...optional('action', input.action),
    ...optional('from', from),
    ...optional('to', to),
    ...optional('correlationId', text('correlationId', input.correlationId)),
    ...optional('subject', text('subject', input.subject)),
    ...optional('before', before),
    limit,
  };
}

const EARLIEST_MS = Date.UTC(1000, 0, 1);
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59);
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?))?$/;

/**
 * An ISO-8601 instant: a date alone (midnight UTC), or a date and time with its zone. A time
 * without a zone is refused: it would mean the server's local time, which a caller cannot see.
 * @returns the instant as microseconds since the epoch and as UTC text with microseconds.
 */
export function parseInstant(value: string, name: string): Instant {
  const m = INSTANT.exec(value);
  const invalid = () =>
    Errors.validation(
      `${name} must be an ISO-8601 date (2026-12-05) or date and time with a zone ` +
        `(2026-12-05T09:30:00Z, 2026-12-05T17:30:00+08:00), not ${JSON.stringify(value)}`,
    );
  if (!m) throw invalid();
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (m[4] !== undefined && m[8] === undefined) throw invalid();
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (monthDays === undefined || day < 1 || day > monthDays) throw invalid();
  if (hour > 23 || minute > 59 || second > 59) throw invalid();
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2) || 0)];
    if (oh > 15 || om > 59) throw invalid();
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const fraction = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  const ms = date.getTime() - offsetMinutes * 60_000;
  // Years of four digits in UTC too, as PostgreSQL and toISOString both read them.
  if (ms < EARLIEST_MS || ms > LATEST_MS) throw invalid();
  const us = BigInt(ms) * 1000n + BigInt(fraction);
  return { us, text: formatMicros(us) };
}

/** `2026-12-05T09:30:00.000000Z` of microseconds since the epoch. */
function formatMicros(us: bigint): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = us - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString(); // …T09:30:00.123Z
  return `${iso.slice(0, -1)}${micros.toString().padStart(3, '0')}Z`;
}

const MAX_POSITION = (1n << 63n) - 1n;
const CURSOR = /^([0-9a-z]{1,13})\.([0-9a-z]{1,13})$/;

/**
 * A page cursor: the position of the last event of the page, `<commit>.<prepare>` in base 36.
 * Opaque to callers, who hand it back as `cursor` for the next (older) page.
 */
export function encodeAuditCursor(p: Position): string {
  return `${p.commit.toString(36)}.${p.prepare.toString(36)}`;
}

/** The position a cursor names, or null when it is not one this server made. */
export function decodeAuditCursor(text: string): Position | null {
  const m = CURSOR.exec(text);
  if (!m) return null;
  const commit = base36(m[1]);
  const prepare = base36(m[2]);
  if (commit > MAX_POSITION || prepare > MAX_POSITION) return null;
  // Leading zeros would make two texts name one position.
  if (commit.toString(36) !== m[1] || prepare.toString(36) !== m[2]) return null;
  return { commit, prepare };
}

function base36(digits: string): bigint {
  let n = 0n;
  for (const d of digits) n = n * 36n + BigInt(parseInt(d, 36));
  return n;
}
