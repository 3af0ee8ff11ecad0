import type {
  EventData,
  EventMetadata,
  Position,
  RecordedEvent,
} from '../../event-store/event-store.port';
import { type StoredDataKey, WRAPPED_KEY_BYTES } from '../../crypto/key-ring';
import { canonicalJson } from '../copy-log';

/**
 * The NDJSON export format, version 2 (docs/admin/streams-export-erasure.md). One JSON object a
 * line, UTF-8, `\n` after each:
 *
 * - first, a header: `{"format":"im-events","version":2,"exported_at":…,"store":…,"filter":…,
 *   "keys":<bool>}`;
 * - then one line per event, in log order, with its keys in this order: `id`, `stream`,
 *   `revision`, `type`, `created_at`, `metadata`, `data`, `position` (data and metadata with
 *   their keys sorted, so two stores' exports of one log compare line by line);
 * - with `keys` (`export --with-keys`), one line per data key the events need (export-events.ts,
 *   addKeyOwners):
 *   `{"key":{"uid":…,"wrapped_key":<base64>|null,"created_at":…,"destroyed_at":…|null}}`, the key
 *   wrapped under the source's master key as `user_keys` holds it, or destroyed;
 * - last, a summary: `{"summary":{"events":<n>}}`. An export cut short has none (or, over HTTP,
 *   an `{"error":…}` line instead), so its reader can tell it is incomplete.
 *
 * Data is as stored: sealed content stays sealed. Version 1 is version 2 without key lines; both
 * are read.
 */

export const EXPORT_FORMAT = 'im-events';
export const EXPORT_VERSION = 2;
const READ_VERSIONS: readonly unknown[] = [1, 2];

export interface ExportFilterText {
  readonly streams?: readonly string[];
  readonly categories?: readonly string[];
  readonly since?: string;
  readonly until?: string;
}

export interface ExportHeader {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: number;
  readonly exported_at: string;
  /** The adapter the events were read from: positions are positions of that store. */
  readonly store: 'postgres' | 'eventstoredb';
  readonly filter: ExportFilterText;
  /** The export carries the data keys its events need (key lines). */
  readonly keys?: boolean;
}

/** An event as a line holds it. */
export interface ExportedEvent {
  readonly id: string;
  readonly stream: string;
  readonly revision: number;
  readonly type: string;
  readonly created_at: string;
  readonly metadata: EventMetadata;
  readonly data: unknown;
  /** In the source store; informative only (an import does not keep it). */
  readonly position?: { readonly commit: string; readonly prepare: string };
}

export function headerLine(header: ExportHeader): string {
  return `${JSON.stringify(header)}\n`;
}

/** A data key's line: wrapped as `user_keys` holds it (base64), or destroyed (null). */
export function keyLine(k: StoredDataKey): string {
  return `${JSON.stringify({
    key: {
      uid: k.uid,
      wrapped_key: k.wrappedKey === null ? null : k.wrappedKey.toString('base64'),
      created_at: k.createdAt.toISOString(),
      destroyed_at: k.destroyedAt === null ? null : k.destroyedAt.toISOString(),
    },
  })}\n`;
}

export function summaryLine(events: number): string {
  return `${JSON.stringify({ summary: { events } })}\n`;
}

export function errorLine(message: string): string {
  return `${JSON.stringify({ error: { message } })}\n`;
}

export function eventLine(e: RecordedEvent): string {
  return (
    `{"id":${JSON.stringify(e.id)},"stream":${JSON.stringify(e.streamId)},` +
    `"revision":${e.revision},"type":${JSON.stringify(e.type)},` +
    `"created_at":${JSON.stringify(e.createdAt.toISOString())},` +
    `"metadata":${canonicalJson(e.metadata)},"data":${canonicalJson(e.data)},` +
    `"position":${positionJson(e.position)}}\n`
  );
}

function positionJson(p: Position): string {
  return `{"commit":"${p.commit.toString()}","prepare":"${p.prepare.toString()}"}`;
}

/** A line of an export file that cannot be imported, by its number (from 1). */
export class ImportLineError extends Error {
  override readonly name = 'ImportLineError';
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

export type ParsedLine =
  | { readonly kind: 'header'; readonly header: ExportHeader }
  | { readonly kind: 'event'; readonly event: ExportedEvent }
  | { readonly kind: 'key'; readonly key: StoredDataKey }
  | { readonly kind: 'summary'; readonly events: number };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const EVENT_KEYS = new Set([
  'id',
  'stream',
  'revision',
  'type',
  'created_at',
  'metadata',
  'data',
  'position',
]);
const ACTOR_KINDS = new Set(['user', 'admin', 'system']);
/** Longest stream id and type accepted (EventStoreDB's own limits are larger). */
const MAX_NAME = 512;

/**
 * Reads one line of an export file.
 * @throws ImportLineError naming the line and what is wrong with it.
 */
export function parseLine(text: string, line: number): ParsedLine {
  const fail = (reason: string): never => {
    throw new ImportLineError(line, reason);
  };
  if (text.trim() === '') fail('an empty line (each line must hold one JSON object)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(`not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('not a JSON object');
  }
  const o = value as Record<string, unknown>;
  if ('format' in o) {
    if (o.format !== EXPORT_FORMAT)
      fail(`a header of another format (${JSON.stringify(o.format)})`);
    if (!READ_VERSIONS.includes(o.version)) {
      fail(
        `a header of version ${JSON.stringify(o.version)}: this tool reads versions ` +
          READ_VERSIONS.join(' and '),
      );
    }
    return { kind: 'header', header: o as unknown as ExportHeader };
  }
  // A key line holds "key" alone (an event line with a "key" field is told of it below).
  if ('key' in o && Object.keys(o).length === 1) return { kind: 'key', key: parseKey(o, fail) };
  if ('summary' in o) {
    const events = (o.summary as { events?: unknown } | null)?.events;
    if (!Number.isSafeInteger(events) || (events as number) < 0) {
      fail('a summary without a count of events');
    }
    return { kind: 'summary', events: events as number };
  }
  if ('error' in o) {
    fail(`the export failed here: ${JSON.stringify(o.error)}; export again`);
  }
  for (const key of Object.keys(o)) if (!EVENT_KEYS.has(key)) fail(`unknown field "${key}"`);
  const { id, stream, revision, type, created_at: createdAt, metadata, data } = o;
  if (typeof id !== 'string' || !UUID.test(id)) fail('"id" must be a UUID');
  if (typeof stream !== 'string' || stream === '' || stream.length > MAX_NAME) {
    fail(`"stream" must be a string of 1 to ${MAX_NAME} characters`);
  }
  if ((stream as string).startsWith('$')) fail('"stream": streams starting with $ are the store’s');
  if (!Number.isSafeInteger(revision) || (revision as number) < 0) {
    fail('"revision" must be an integer from 0');
  }
  if (typeof type !== 'string' || type === '' || type.length > MAX_NAME) {
    fail(`"type" must be a string of 1 to ${MAX_NAME} characters`);
  }
  if (!isInstant(createdAt)) fail('"created_at" must be an ISO-8601 time with a zone');
  if (!('data' in o) || data === undefined) fail('"data" is missing');
  checkMetadata(metadata, fail);
  const unstorable = unstorableText(o);
  if (unstorable) fail(`${unstorable}: PostgreSQL text and jsonb cannot store it`);
  return { kind: 'event', event: o as unknown as ExportedEvent };
}

/** A value inside an event line, with the way to it, for naming it. */
interface Frame {
  readonly value: unknown;
  readonly parent: Frame | null;
  readonly key: string | number;
}

/**
 * What is wrong with the first text of an event line that PostgreSQL cannot store (U+0000, or an
 * unpaired UTF-16 surrogate, both of which JSON escapes can spell), at any depth, object keys
 * included, or null. EventStoreDB would take it, but the projections could then never store the
 * event, and every one of them would stop there. The rule is the API's (StorableTextPipe in
 * src/common/http/validation.ts), which is not exported and stops at depth 8: exported data may
 * nest deeper. Walked with an explicit stack, so a deeply nested line cannot exhaust the call
 * stack; paths are only spelled out for the culprit.
 */
function unstorableText(event: Record<string, unknown>): string | null {
  const stack: Frame[] = Object.keys(event)
    .reverse()
    .map((key) => ({ value: event[key], parent: null, key }));
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const { value } = frame;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `"${pathOf(frame)}" holds ${problem}`;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i] as unknown, parent: frame, key: i });
      }
    } else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      for (const key of keys) {
        const problem = textProblem(key);
        if (problem) return `a key of "${pathOf(frame)}" (${JSON.stringify(key)}) holds ${problem}`;
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: record[keys[i]], parent: frame, key: keys[i] });
      }
    }
  }
  return null;
}

function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'U+0000 (NUL)';
  if (!text.isWellFormed()) return 'an unpaired UTF-16 surrogate';
  return null;
}

/** `data.a[0].b`, with keys that are not plain names quoted: `data["a b"]`. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | null = frame; f; f = f.parent) {
    parts.push(
      typeof f.key === 'number'
        ? `[${f.key}]`
        : f.parent === null
          ? f.key
          : /^[A-Za-z_$][\w$]*$/.test(f.key)
            ? `.${f.key}`
            : `[${JSON.stringify(f.key)}]`,
    );
  }
  return parts.reverse().join('');
}

const KEY_FIELDS = ['uid', 'wrapped_key', 'created_at', 'destroyed_at'];

function isInstant(value: unknown): value is string {
  return typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));
}

/** A key line's key, checked field by field. */
function parseKey(o: Record<string, unknown>, fail: (reason: string) => never): StoredDataKey {
  const k = o.key as Record<string, unknown> | null;
  if (k === null || typeof k !== 'object' || Array.isArray(k)) fail('"key" must be an object');
  for (const field of Object.keys(k)) {
    if (!KEY_FIELDS.includes(field)) fail(`unknown field "key.${field}"`);
  }
  const { uid, wrapped_key: wrapped, created_at: createdAt, destroyed_at: destroyedAt } = k;
  if (typeof uid !== 'string' || uid === '' || uid.length > MAX_NAME || textProblem(uid)) {
    fail(`"key.uid" must be a user id of 1 to ${MAX_NAME} characters`);
  }
  if (!isInstant(createdAt)) fail('"key.created_at" must be an ISO-8601 time with a zone');
  let wrappedKey: Buffer | null = null;
  if (wrapped === null) {
    if (!isInstant(destroyedAt))
      fail('a destroyed key ("wrapped_key": null) needs its "destroyed_at"');
  } else {
    if (destroyedAt !== null) fail('a key with "wrapped_key" has "destroyed_at": null');
    wrappedKey = typeof wrapped === 'string' ? Buffer.from(wrapped, 'base64') : null;
    if (
      wrappedKey === null ||
      wrappedKey.length !== WRAPPED_KEY_BYTES ||
      wrappedKey.toString('base64') !== wrapped
    ) {
      fail(`"key.wrapped_key" must be ${WRAPPED_KEY_BYTES} bytes in base64, or null`);
    }
  }
  return {
    uid,
    wrappedKey,
    createdAt: new Date(createdAt),
    destroyedAt: destroyedAt === null ? null : new Date(destroyedAt),
  };
}

function checkMetadata(metadata: unknown, fail: (reason: string) => never): void {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    fail('"metadata" must be an object');
  }
  const m = metadata as Record<string, unknown>;
  const actor = m.actor as Record<string, unknown> | null | undefined;
  if (
    actor === null ||
    typeof actor !== 'object' ||
    !ACTOR_KINDS.has(actor.kind as string) ||
    typeof actor.id !== 'string'
  ) {
    fail('"metadata.actor" must be {"kind": "user" | "admin" | "system", "id": "…"}');
  }
  if (typeof m.correlationId !== 'string') fail('"metadata.correlationId" must be a string');
}

/** The event to append for a line: its id, type, data and metadata, and its time as recordedAt. */
export function toEventData(e: ExportedEvent): EventData {
  return {
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
    recordedAt: new Date(e.created_at),
  };
}
