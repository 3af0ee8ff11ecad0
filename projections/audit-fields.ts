import { TOKEN_ISSUED, USER_REGISTERED } from '../src/accounts/accounts.events';
import { ADMIN_OPERATION_RECORDED } from '../src/admin/admin-actions';
import {
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_ASSISTANT_ACKED,
  GROUP_CREATED,
  GROUP_DISMISSED,
  GROUP_INFO_SET,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
} from '../src/groups/groups.events';
import { MESSAGE_RECALLED, MESSAGE_SENT } from '../src/messaging/messaging.events';
import {
  BLOCKED,
  FOLLOWED,
  PRIVACY_CHANGED,
  PROFILE_UPDATED,
  UNBLOCKED,
  UNFOLLOWED,
} from '../src/relations/relations.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SESSIONS_REMOVED,
} from '../src/sessions/sessions.events';
import { quoteLiteral } from './projection-runner';

/**
 * What the audit index (rm_audit, projections/audit.projector.ts) takes from an event's data: its
 * subjects and its action, per type. Described once here, and read two ways: by {@link
 * auditSubjects} and {@link auditAction} for events in this process (the live projection), and as
 * SQL over `es_events` by {@link auditSubjectsSql} and {@link auditActionSql} (a rebuild's bulk
 * load, AuditProjector.applyFromLog). projections/audit-fields.int.spec.ts holds the two readings
 * to the same rows, odd data included.
 */

/**
 * Longest text kept in an indexed column, in characters (code points, as PostgreSQL counts them).
 * The log's metadata is bounded where the API writes it (a request id, a device id: 128
 * characters), but an imported or foreign event could carry more, and a btree entry over about
 * 2.7 kB would fail the whole batch.
 */
export const MAX_TEXT = 512;
/** Most subjects kept for one event (a group created or joined by many users at once). */
export const MAX_SUBJECTS = 1000;
/**
 * Joins an event's subjects into one text for the INSERT (unnest cannot take an array of arrays
 * of different lengths; splitting on a separator costs PostgreSQL far less than parsing JSON).
 * The ASCII unit separator: no id holds one, and a subject that did is dropped.
 */
export const SEPARATOR = '\u001f';

/**
 * One part of an event's subjects. Each takes the value at `path` in the data (every key but the
 * last must lead to an object):
 * - `one`: a non-empty string there;
 * - `many`: the non-empty strings of an array there;
 * - `each`: the non-empty string at `key` of each object of an array there.
 */
type SubjectPart =
  | { readonly one: readonly string[] }
  | { readonly many: readonly string[] }
  | { readonly each: readonly string[]; readonly key: string };

const one = (...path: string[]): SubjectPart => ({ one: path });
const many = (...path: string[]): SubjectPart => ({ many: path });
const each = (list: string, key: string): SubjectPart => ({ each: [list], key });

/** Arguments of an administrator's operation that name what it worked on: a string, or strings. */
const ADMIN_ARG_SUBJECTS = ['uid', 'stream', 'projection'];

/**
 * What an event is about, per type: the keys an administrator searches the audit for, in this
 * order. Ids only (a message's msg_key, the user a follow or a kick targets, a token's id), never
 * content: the audit index holds nothing an erasure has to reach. The actor and the stream are
 * columns of their own and are not repeated here. A type not listed has no subjects.
 */
const SUBJECTS: Readonly<Record<string, readonly SubjectPart[]>> = {
  // conversation-<id>: the message; a recall names the recalled message and its own notice.
  // (First: by far the most frequent type, and the SQL tests the types in this order.)
  [MESSAGE_SENT]: [one('msgKey')],
  [MESSAGE_RECALLED]: [one('targetMsgKey'), one('msgKey')],
  // sessions-<uid>: the sessions' talkers (users, or groups for session type 2)
  [SESSION_ACKED]: [each('acks', 'talkerId')],
  [SESSIONS_REMOVED]: [each('sessions', 'talkerId')],
  [SESSION_TOP_SET]: [one('talkerId')],
  [SESSION_DND_SET]: [one('talkerId')],
  [SESSION_TRUST_SET]: [one('talkerId')],
  [GROUP_ASSISTANT_ACKED]: [],
  // user-<uid>
  [USER_REGISTERED]: [one('uid')],
  [TOKEN_ISSUED]: [one('uid'), one('tokenId')],
  [FOLLOWED]: [one('targetUid')],
  [UNFOLLOWED]: [one('targetUid')],
  [BLOCKED]: [one('targetUid')],
  [UNBLOCKED]: [one('targetUid')],
  [PRIVACY_CHANGED]: [one('uid')],
  [PROFILE_UPDATED]: [one('uid')],
  // USER_ERASED of src/accounts/accounts.events.ts, named by its frozen type string.
  UserErased: [one('uid')],
  // group-<id>: the users a change is about (the group is the stream)
  [GROUP_CREATED]: [each('members', 'uid')],
  [GROUP_INFO_SET]: [],
  [GROUP_MEMBERS_JOINED]: [each('members', 'uid')],
  [GROUP_MEMBERS_LEFT]: [many('uids')],
  [GROUP_APPLIED]: [one('uid')],
  [GROUP_APPLICATION_HANDLED]: [one('uid')],
  [GROUP_OWNER_TRANSFERRED]: [one('toUid'), one('fromUid')],
  [GROUP_MEMBER_ROLE_SET]: [one('uid')],
  [GROUP_MEMBER_MUTED]: [one('uid')],
  [GROUP_STATUS_SET]: [],
  [GROUP_DISMISSED]: [],
  // adminop-<id>: the operation's name and what it worked on
  [ADMIN_OPERATION_RECORDED]: [
    one('operation'),
    ...ADMIN_ARG_SUBJECTS.flatMap((k) => [one('args', k), many('args', k)]),
  ],
};

/**
 * How one type names its action, from one field of the data:
 * - `flag`: `yes` when the field is `true`, else `no`;
 * - `code`: the field itself, when it is a short code (1-64 of A-Z a-z 0-9 _);
 * - `names`: the name of the number the field holds, among `names`;
 * - `sign`: `positive` when the field is a number above 0, `otherwise` for any other number;
 * - `onOff`: `on` or `off` for a boolean.
 * Anything else in the field: no action.
 */
type ActionRule =
  | { readonly flag: string; readonly yes: string; readonly no: string }
  | { readonly code: string }
  | { readonly names: string; readonly of: readonly (readonly [number, string])[] }
  | { readonly sign: string; readonly positive: string; readonly otherwise: string }
  | { readonly onOff: string };

/**
 * What an event did where one type covers several actions, as a short code of its own vocabulary:
 * a kick and a quit are both `GroupMembersLeft` (`kicked`, `quit`), a sender's recall and an
 * administrator's sys-cancel both `MessageRecalled` (`recall`, `sys_cancel`). None for other types.
 */
const ACTIONS: Readonly<Record<string, ActionRule>> = {
  [MESSAGE_RECALLED]: { flag: 'system', yes: 'sys_cancel', no: 'recall' },
  [GROUP_MEMBERS_JOINED]: { code: 'how' },
  [GROUP_MEMBERS_LEFT]: { code: 'how' },
  [GROUP_APPLICATION_HANDLED]: {
    names: 'result',
    of: [
      [1, 'accepted'],
      [-1, 'refused'],
    ],
  },
  [GROUP_MEMBER_MUTED]: { sign: 'mutedUntilUs', positive: 'muted', otherwise: 'unmuted' },
  [GROUP_MEMBER_ROLE_SET]: {
    names: 'roleLevel',
    of: [
      [1, 'member'],
      [3, 'admin'],
    ],
  },
  [GROUP_STATUS_SET]: {
    names: 'status',
    of: [
      [0, 'normal'],
      [1, 'banned'],
      [3, 'muted'],
    ],
  },
  [SESSION_TOP_SET]: { sign: 'topTs', positive: 'pinned', otherwise: 'unpinned' },
  [SESSION_DND_SET]: { onOff: 'dnd' },
  [SESSION_TRUST_SET]: { onOff: 'trusted' },
  [ADMIN_OPERATION_RECORDED]: { code: 'outcome' },
};

const CODE = /^[A-Za-z0-9_]{1,64}$/;
/** The PostgreSQL spelling of CODE (its brackets and bounds mean the same there). */
const CODE_SQL = '^[A-Za-z0-9_]{1,64}$';

/**
 * `metadata.at` as the audit takes it: an instant of `toISOString()`'s form (milliseconds
 * optional, UTC), of a real day. Anything else is no time: Date.parse and PostgreSQL each accept
 * (and read differently) many other forms, and the two readings must agree.
 */
const DECIDED_AT =
  /^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,3})?Z$/;

type Data = Record<string, unknown>;

// ---- In this process -------------------------------------------------------------------------

/** `text` cut to MAX_TEXT code points. */
export function clip(text: string): string {
  if (text.length <= MAX_TEXT) return text;
  const points = Array.from(text);
  return points.length > MAX_TEXT ? points.slice(0, MAX_TEXT).join('') : text;
}

const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null;

/** The value at `path`, or undefined where a step is not an object. */
function at(data: Data, path: readonly string[]): unknown {
  let v: unknown = data;
  for (const key of path) {
    if (!isObject(v) || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

function partValues(data: Data, part: SubjectPart): string[] {
  if ('one' in part) {
    const v = at(data, part.one);
    return nonEmpty(v) ? [v] : [];
  }
  const list = at(data, 'many' in part ? part.many : part.each);
  if (!Array.isArray(list)) return [];
  if ('many' in part) return list.filter(nonEmpty);
  const key = part.key;
  return list.flatMap((x: unknown) => {
    const v = isObject(x) && !Array.isArray(x) && Object.hasOwn(x, key) ? x[key] : undefined;
    return nonEmpty(v) ? [v] : [];
  });
}

/** The subjects of an event: its type's keys, distinct, bounded; none for an unknown type. */
export function auditSubjects(type: string, data: unknown): string[] {
  const parts = Object.hasOwn(SUBJECTS, type) ? SUBJECTS[type] : undefined;
  if (!parts || !isObject(data)) return [];
  const subjects = parts
    .flatMap((p) => partValues(data, p))
    .filter((s) => !s.includes(SEPARATOR))
    .map(clip);
  return [...new Set(subjects)].slice(0, MAX_SUBJECTS);
}

/** What an event did, where its type covers several actions (see ACTIONS); else null. */
export function auditAction(type: string, data: unknown): string | null {
  const rule = Object.hasOwn(ACTIONS, type) ? ACTIONS[type] : undefined;
  if (!rule || !isObject(data)) return null;
  if ('flag' in rule) return at(data, [rule.flag]) === true ? rule.yes : rule.no;
  if ('code' in rule) {
    const v = at(data, [rule.code]);
    return typeof v === 'string' && CODE.test(v) ? v : null;
  }
  if ('names' in rule) {
    const v = at(data, [rule.names]);
    return rule.of.find(([n]) => n === v)?.[1] ?? null;
  }
  if ('sign' in rule) {
    const v = at(data, [rule.sign]);
    return typeof v === 'number' ? (v > 0 ? rule.positive : rule.otherwise) : null;
  }
  const v = at(data, [rule.onOff]);
  return v === true ? 'on' : v === false ? 'off' : null;
}

/** A non-empty text, clipped; else null (metadata fields). */
export function optionalText(v: unknown): string | null {
  return nonEmpty(v) ? clip(v) : null;
}

/** `metadata.at` (when the command was decided) in ms since the epoch, or null (DECIDED_AT). */
export function decidedAt(v: unknown): number | null {
  if (typeof v !== 'string' || !DECIDED_AT.test(v)) return null;
  const t = Date.parse(v);
  // Date.parse carries a day past the month's end over to the next month: not a real day.
  return new Date(t).toISOString().slice(0, 10) === v.slice(0, 10) ? t : null;
}

// ---- In SQL, over es_events ------------------------------------------------------------------

const pathSql = (json: string, path: readonly string[]) =>
  path.length === 1
    ? `${json}->${quoteLiteral(path[0])}`
    : `${json}#>${quoteLiteral(`{${path.join(',')}}`)}`;

/**
 * The text at `path`, for a string: `->>` gives it at once, where `#>>'{}'` on what `->` gave
 * costs a second copy of the value.
 */
const textSql = (json: string, path: readonly string[]) =>
  path.length === 1
    ? `${json}->>${quoteLiteral(path[0])}`
    : `${json}#>>${quoteLiteral(`{${path.join(',')}}`)}`;

/** `text[]` of the string `s` when it is a subject (not empty, no separator), clipped; else none. */
const oneSubjectSql = (s: string) =>
  `CASE WHEN ${s} <> '' AND strpos(${s}, chr(31)) = 0
        THEN ARRAY[left(${s}, ${MAX_TEXT})] ELSE '{}'::text[] END`;

/** The rows (s, n) of one subject part, its n from `base` up, in order. */
function partSql(json: string, part: SubjectPart, base: number): string {
  if ('one' in part) {
    const v = pathSql(json, part.one);
    return `SELECT ${v}#>>'{}' AS s, ${base}::bigint AS n WHERE jsonb_typeof(${v}) = 'string'`;
  }
  const list = pathSql(json, 'many' in part ? part.many : part.each);
  const elements = `jsonb_array_elements(CASE WHEN jsonb_typeof(${list}) = 'array' THEN ${list} END) WITH ORDINALITY AS a(x, i)`;
  if ('many' in part) {
    return `SELECT x#>>'{}' AS s, ${base} + i AS n FROM ${elements} WHERE jsonb_typeof(x) = 'string'`;
  }
  const v = `x->${quoteLiteral(part.key)}`;
  return `SELECT ${v}#>>'{}' AS s, ${base} + i AS n FROM ${elements} WHERE jsonb_typeof(x) = 'object' AND jsonb_typeof(${v}) = 'string'`;
}

/** The subjects of one type's data `json` (a text[] expression). */
function subjectsOfTypeSql(json: string, parts: readonly SubjectPart[]): string {
  if (parts.length === 0) return `'{}'::text[]`;
  if (parts.length === 1 && 'one' in parts[0]) {
    // One string: no distinct, no bound.
    const one = parts[0].one;
    return `CASE WHEN jsonb_typeof(${pathSql(json, one)}) = 'string'
                 THEN ${oneSubjectSql(textSql(json, one))} ELSE '{}'::text[] END`;
  }
  // Parts a 2^32 apart in n, so that the order of first appearance is the parts' order.
  const candidates = parts.map((p, i) => partSql(json, p, i * 2 ** 32)).join(' UNION ALL ');
  const distinct = `(SELECT coalesce(array_agg(u.s ORDER BY u.n), '{}'::text[]) FROM (
            SELECT c.s, min(c.n) AS n FROM (
              SELECT left(c.s, ${MAX_TEXT}) AS s, c.n FROM (${candidates}) c
               WHERE c.s <> '' AND strpos(c.s, chr(31)) = 0) c
             GROUP BY c.s ORDER BY n LIMIT ${MAX_SUBJECTS}) u)`;
  if (parts.length > 1 || 'one' in parts[0]) return distinct;
  // One list (a session ack's acks, most often of one session): a list of one element needs
  // neither the subquery nor its distinct, which cost more than the rest of the row.
  const part = parts[0];
  const list = pathSql(json, 'many' in part ? part.many : part.each);
  const first = `${list}->0`;
  const single =
    'many' in part
      ? `CASE WHEN jsonb_typeof(${first}) = 'string' THEN ${oneSubjectSql(`(${list}->>0)`)} ELSE '{}'::text[] END`
      : `CASE WHEN jsonb_typeof(${first}) = 'object' AND jsonb_typeof(${first}->${quoteLiteral(part.key)}) = 'string'
              THEN ${oneSubjectSql(`(${first}->>${quoteLiteral(part.key)})`)} ELSE '{}'::text[] END`;
  return `CASE WHEN jsonb_typeof(${list}) IS DISTINCT FROM 'array' THEN '{}'::text[]
               WHEN jsonb_array_length(${list}) = 0 THEN '{}'::text[]
               WHEN jsonb_array_length(${list}) = 1 THEN ${single}
               ELSE ${distinct} END`;
}

/** {@link auditSubjects} of an event with type `type` and data `json`, as a text[] expression. */
export function auditSubjectsSql(type: string, json: string): string {
  const cases = Object.entries(SUBJECTS)
    .filter(([, parts]) => parts.length > 0)
    .map(([t, parts]) => `WHEN ${quoteLiteral(t)} THEN ${subjectsOfTypeSql(json, parts)}`);
  return `CASE WHEN jsonb_typeof(${json}) NOT IN ('object', 'array') THEN '{}'::text[]
          ELSE CASE ${type} ${cases.join('\n')} ELSE '{}'::text[] END END`;
}

function actionRuleSql(json: string, rule: ActionRule): string {
  const field = (key: string) => `${json}->${quoteLiteral(key)}`;
  if ('flag' in rule) {
    return `CASE WHEN ${field(rule.flag)} = 'true'::jsonb THEN ${quoteLiteral(rule.yes)} ELSE ${quoteLiteral(rule.no)} END`;
  }
  if ('code' in rule) {
    const v = field(rule.code);
    return `CASE WHEN jsonb_typeof(${v}) = 'string' AND ${v}#>>'{}' ~ ${quoteLiteral(CODE_SQL)} THEN ${v}#>>'{}' END`;
  }
  if ('names' in rule) {
    const v = field(rule.names);
    return `CASE ${rule.of.map(([n, name]) => `WHEN ${v} = '${n}'::jsonb THEN ${quoteLiteral(name)}`).join(' ')} END`;
  }
  if ('sign' in rule) {
    const v = field(rule.sign);
    return `CASE WHEN jsonb_typeof(${v}) = 'number' THEN CASE WHEN (${v})::numeric > 0
                 THEN ${quoteLiteral(rule.positive)} ELSE ${quoteLiteral(rule.otherwise)} END END`;
  }
  const v = field(rule.onOff);
  return `CASE WHEN ${v} = 'true'::jsonb THEN 'on' WHEN ${v} = 'false'::jsonb THEN 'off' END`;
}

/** {@link auditAction} of an event with type `type` and data `json`, as a text expression. */
export function auditActionSql(type: string, json: string): string {
  const cases = Object.entries(ACTIONS).map(
    ([t, rule]) => `WHEN ${quoteLiteral(t)} THEN ${actionRuleSql(json, rule)}`,
  );
  return `CASE WHEN jsonb_typeof(${json}) IN ('object', 'array')
               THEN CASE ${type} ${cases.join('\n')} END END`;
}

/** {@link optionalText} of the metadata field at `path`, as a text expression. */
export function optionalTextSql(json: string, path: readonly string[]): string {
  return `CASE jsonb_typeof(${pathSql(json, path)}) WHEN 'string' THEN NULLIF(left(${textSql(json, path)}, ${MAX_TEXT}), '') END`;
}

/**
 * The text of the metadata field `at` when it is a JSON string, else NULL: what
 * {@link decidedAtSql} takes, extracted once.
 */
export function decidedAtTextSql(json: string): string {
  return `CASE WHEN jsonb_typeof(${json}->'at') = 'string' THEN ${json}->>'at' END`;
}

/**
 * {@link decidedAt} of `text` (the metadata field `at` as {@link decidedAtTextSql} gives it), as a
 * timestamptz expression: the instant itself (DECIDED_AT allows milliseconds at most, so it is
 * exactly the instant `apply` writes). DECIDED_AT without a regular expression, which cost more
 * than the rest of the audit row (bench/README.md): the digits mapped to 0 give one of its four
 * shapes, then each field is in its range (byte order, the digits being ASCII) and the day is
 * real. Nested CASEs, so that each test runs only on what passed the one before.
 */
export function decidedAtSql(text: string): string {
  const shapes = ['', '.0', '.00', '.000'].map((f) => quoteLiteral(`0000-00-00T00:00:00${f}Z`));
  const field = (from: number, length: number) => `substr(${text}, ${from}, ${length}) COLLATE "C"`;
  // The day is real when it is at most the 28th, or when the first of its month plus (day - 1)
  // days is still in that month.
  return `CASE WHEN translate(${text}, '123456789', '000000000') IN (${shapes.join(', ')})
                THEN CASE WHEN left(${text}, 1) <> '0'
                               AND ${field(6, 2)} BETWEEN '01' AND '12'
                               AND ${field(9, 2)} BETWEEN '01' AND '31'
                               AND ${field(12, 2)} <= '23'
                               AND ${field(15, 1)} <= '5' AND ${field(18, 1)} <= '5'
                          THEN CASE WHEN ${field(9, 2)} <= '28'
                                      OR extract(month FROM make_date(left(${text}, 4)::int,
                                                                      substr(${text}, 6, 2)::int, 1)
                                                 + (substr(${text}, 9, 2)::int - 1))
                                         = substr(${text}, 6, 2)::int
                                    THEN ${text}::timestamptz END END END`;
}
