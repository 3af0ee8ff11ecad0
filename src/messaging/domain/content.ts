import { z } from 'zod';
import { DomainError, Errors } from '../../common/errors';
import { isStorableText } from './conversation';

/**
 * The content of a message: the seed's `content`, JSON text whose shape depends on `msg_type`
 * (private_msg_content.md, "私信消息类型、内容说明", of bilibili-API-collect). This module checks
 * it and returns the normalized text to store.
 *
 * | msg_type | what                 | who    | fields kept (required unless marked `?`)                    |
 * | -------- | -------------------- | ------ | ----------------------------------------------------------- |
 * | 1        | text                 | user   | content: non-empty str, ≤ maxTextLength code points (21007) |
 * | 2        | image                | user   | url: http(s) URL; height?, width?: positive int;            |
 * |          |                      |        | imageType?: str (1–32); original?: 0 or 1; size?: KB ≥ 0    |
 * | 6        | custom emoticon      | user   | as 2 (the doc: 结构同图片消息)                              |
 * | 7        | share                | user   | id: see below; source: 2–11, 16 or 17 (1 is retired);       |
 * |          |                      |        | title: str; thumb: http(s) URL or ""; author?, headline?,   |
 * |          |                      |        | source_desc?: str; url?: http(s) URL; bvid?: BV id          |
 * | 9        | mini program         | user   | id, name, title, label_name: str; jump_uri: http(s) URL;    |
 * |          |                      |        | avatar, cover, label_cover: http(s) URL or ""               |
 * | 14       | share (other, live)  | user   | title, author, desc, source: str; url: http(s) URL;         |
 * |          |                      |        | cover: http(s) URL or ""                                    |
 * | 10       | notification         | system | title, text: str; jump_text[_2,_3]?, jump_uri[_2,_3]?: str; |
 * |          |                      |        | modules?: [{title, detail}] or null; notifier?: {avatar_url,|
 * |          |                      |        | nickname, jump_url} or null; jump_uri[_2,_3]_config?:       |
 * |          |                      |        | {all_uri?, android_uri?, iphone_uri?, ipad_uri?, web_uri?,  |
 * |          |                      |        | text?}; biz_content?: {cover?, backup_cover?, refresh_type?,|
 * |          |                      |        | biz_type?, biz_id1?, biz_id2?, biz_status?} or null         |
 * | 11       | video push           | system | rid: int; title?, cover?, desc?, bvid?: str; times?, view?, |
 * |          |                      |        | danmaku?, pub_date?, type_?, type?: int;                    |
 * |          |                      |        | attach_msg?: {id, content} or null                          |
 * | 12       | article push         | system | rid: int; title?, summary?, author?: str; view?, like?,     |
 * |          |                      |        | reply?, template_id?, pub_date?, type?: int;                |
 * |          |                      |        | image_urls?: [str] or null; attach_msg?: as 11              |
 * | 13       | image card           | system | pic_url, jump_url, title: str                               |
 * | 16       | follow auto-push     | system | main_title, reply_content: str; sub_cards: ≤ 10 of {card_id:|
 * |          |                      |        | int; card_type?, icon3?, icon4?: int; jump_url?, cover_url?,|
 * |          |                      |        | field1?…field4?: str}                                       |
 * | 18       | system tip           | system | content: JSON text of [{text, color_day, color_nig,         |
 * |          |                      |        | jump_url?}] (≤ 10), itself normalized                       |
 * | 19       | AI message           | system | content_: str; showLike_?, showChange_?, gptSessionId_?,    |
 * |          |                      |        | gptBindQuery_?, sessionClosedLine_?: int                    |
 * | 301–306  | group notices        | system | group_id: positive int; content: str                        |
 *
 * - "user" types anyone may send; "system" types (marked "仅可接收，不可直接发送" in the doc, or sent
 *   by the platform: auto-push, system tips, AI replies, group notices) only a sender with
 *   `limits.system`. A user's attempt is 21035, as is every type not in the table.
 * - 5 (recall) is not content: the caller routes it to the recall command before this check,
 *   so here it is 21035. 8 (system recall) is retired in the doc and refused to everyone.
 * - A field is required when the doc does not mark it 非必要 or say it can be missing. Strings may
 *   be empty unless the table says otherwise.
 * - URLs that users send and clients render or open are http(s) only (no `javascript:`, no
 *   credentials). URLs of system content stay plain strings: the platform sends its own deep links
 *   (`bilibili://…`).
 * - 7's `id` is a non-negative safe integer, or a string of up to 20 digits: ids of dynamics
 *   (source 11) exceed 2^53 and would lose digits as JSON numbers.
 * - Unknown fields are dropped: the stored content holds only the fields above, in the order of the
 *   table, so what is stored is bounded and readers meet only fields they know. Nothing is
 *   converted otherwise (a number stays a number).
 * - Every string must be storable in PostgreSQL (no NUL, no unpaired surrogate).
 * - An invalid image or emoticon (2, 6) is 21037, as in the seed; any other invalid content 40000.
 *   Content over {@link MAX_CONTENT_BYTES} UTF-8 bytes is 40000 whatever the type.
 */

export const MsgType = {
  TEXT: 1,
  IMAGE: 2,
  RECALL: 5,
  CUSTOM_EMOTICON: 6,
  SHARE: 7,
  SYSTEM_RECALL: 8,
  MINI_PROGRAM: 9,
  NOTIFICATION: 10,
  VIDEO_PUSH: 11,
  ARTICLE_PUSH: 12,
  IMAGE_CARD: 13,
  SHARE_OTHER: 14,
  FOLLOW_AUTO_PUSH: 16,
  SYSTEM_TIP: 18,
  AI: 19,
} as const;

/** Largest content, raw or normalized, in UTF-8 bytes (text messages: see {@link contentBound}). */
export const MAX_CONTENT_BYTES = 8192;

export interface ContentLimits {
  /** Longest text of a text message, in code points (longer: 21007). */
  readonly maxTextLength: number;
  /** The sender is the platform: the system-only types of the table are accepted too. */
  readonly system?: boolean;
}

export interface ValidContent {
  readonly msgType: number;
  /** The normalized content: JSON text holding only the known fields. This is what is stored. */
  readonly content: string;
  /** The text of a text message (msg_type 1), else null. */
  readonly text: string | null;
}

// ---- field kinds ----------------------------------------------------------------------------

function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === ''
  );
}

const str = z.string();
const httpUrl = z.string().max(2048).refine(isHttpUrl, 'must be an http(s) URL');
/** The error of a union: zod's own lists every branch; ours says what is allowed. */
const unionError =
  (message: string): z.ZodErrorMap =>
  (_issue, ctx) => ({ message: ctx.data === undefined ? 'is required' : message });
const httpUrlOrEmpty = z.union([z.literal(''), httpUrl], {
  errorMap: unionError('must be an http(s) URL or empty'),
});
const int = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const positiveInt = int.min(1);
const bigId = z.union([int, z.string().regex(/^\d{1,20}$/)], {
  errorMap: unionError('must be a non-negative integer or a string of up to 20 digits'),
});

// ---- user types -----------------------------------------------------------------------------

const textContent = z.object({ content: z.string().min(1, 'must not be empty') });

const imageContent = z.object({
  url: httpUrl,
  height: positiveInt.optional(),
  width: positiveInt.optional(),
  imageType: z.string().min(1).max(32).optional(),
  original: z
    .union([z.literal(0), z.literal(1)], { errorMap: unionError('must be 0 or 1') })
    .optional(),
  size: z.number().min(0).optional(),
});

const SHARE_SOURCES = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17];
const shareContent = z.object({
  author: str.optional(),
  headline: str.optional(),
  id: bigId,
  source: z
    .number()
    .refine((s) => SHARE_SOURCES.includes(s), `must be one of ${SHARE_SOURCES.join(', ')}`),
  source_desc: str.optional(),
  thumb: httpUrlOrEmpty,
  title: str,
  url: httpUrl.optional(),
  bvid: z
    .string()
    .regex(/^BV1[0-9A-Za-z]{9}$/, 'must be a BV id')
    .optional(),
});

const miniProgramContent = z.object({
  avatar: httpUrlOrEmpty,
  cover: httpUrlOrEmpty,
  id: z.string().min(1),
  jump_uri: httpUrl,
  label_cover: httpUrlOrEmpty,
  label_name: str,
  name: str,
  title: str,
});

const shareOtherContent = z.object({
  author: str,
  cover: httpUrlOrEmpty,
  desc: str,
  source: str,
  title: str,
  url: httpUrl,
});

// ---- system types ---------------------------------------------------------------------------

const jumpConfig = z.object({
  all_uri: str.optional(),
  android_uri: str.optional(),
  iphone_uri: str.optional(),
  ipad_uri: str.optional(),
  web_uri: str.optional(),
  text: str.optional(),
});

const notificationContent = z.object({
  title: str,
  text: str,
  jump_text: str.optional(),
  jump_uri: str.optional(),
  modules: z
    .array(z.object({ title: str, detail: str }))
    .max(20)
    .nullable()
    .optional(),
  jump_text_2: str.optional(),
  jump_uri_2: str.optional(),
  jump_text_3: str.optional(),
  jump_uri_3: str.optional(),
  notifier: z.object({ avatar_url: str, nickname: str, jump_url: str }).nullable().optional(),
  jump_uri_config: jumpConfig.optional(),
  jump_uri_2_config: jumpConfig.optional(),
  jump_uri_3_config: jumpConfig.optional(),
  biz_content: z
    .object({
      cover: str.optional(),
      backup_cover: str.optional(),
      refresh_type: int.optional(),
      biz_type: int.optional(),
      biz_id1: str.optional(),
      biz_id2: str.optional(),
      biz_status: int.optional(),
    })
    .nullable()
    .optional(),
});

const attachMsg = z.object({ id: int, content: str }).nullable().optional();

const videoPushContent = z.object({
  title: str.optional(),
  times: int.optional(),
  cover: str.optional(),
  rid: int,
  // The doc: usually `type_`; in the rare short form `type` (no underscore).
  type_: int.optional(),
  type: int.optional(),
  desc: str.optional(),
  bvid: str.optional(),
  view: int.optional(),
  danmaku: int.optional(),
  pub_date: int.optional(),
  attach_msg: attachMsg,
});

const articlePushContent = z.object({
  rid: int,
  type: int.optional(),
  title: str.optional(),
  summary: str.optional(),
  author: str.optional(),
  view: int.optional(),
  like: int.optional(),
  reply: int.optional(),
  template_id: int.optional(),
  image_urls: z.array(str).max(10).nullable().optional(),
  attach_msg: attachMsg,
  pub_date: int.optional(),
});

const imageCardContent = z.object({ pic_url: str, jump_url: str, title: str });

const followAutoPushContent = z.object({
  main_title: str,
  reply_content: str,
  sub_cards: z
    .array(
      z.object({
        card_id: int,
        card_type: int.optional(),
        jump_url: str.optional(),
        cover_url: str.optional(),
        field1: str.optional(),
        field2: str.optional(),
        field3: str.optional(),
        icon3: int.optional(),
        field4: str.optional(),
        icon4: int.optional(),
      }),
    )
    .max(10),
});

const systemTip = z.object({
  text: str,
  color_day: str,
  color_nig: str,
  jump_url: str.optional(),
});

/** 18's `content` is itself JSON text (an array of tips): parsed, checked, re-serialized. */
const systemTipContent = z.object({
  content: z.string().transform((text, ctx) => {
    let tips: unknown;
    try {
      tips = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be JSON text of an array' });
      return z.NEVER;
    }
    const parsed = z.array(systemTip).max(10).safeParse(tips);
    if (!parsed.success) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: describe(parsed.error) });
      return z.NEVER;
    }
    return JSON.stringify(parsed.data);
  }),
});

const aiContent = z.object({
  content_: str,
  showLike_: int.optional(),
  showChange_: int.optional(),
  gptSessionId_: int.optional(),
  gptBindQuery_: int.optional(),
  sessionClosedLine_: int.optional(),
});

const groupNoticeContent = z.object({ group_id: positiveInt, content: str });

// ---- the table ------------------------------------------------------------------------------

interface TypeRule {
  readonly name: string;
  readonly systemOnly: boolean;
  readonly schema: z.ZodType<object, z.ZodTypeDef, unknown>;
  /** The error of content that does not fit the schema. */
  readonly invalid: (why: string) => DomainError;
}

const invalidContent = (name: string, msgType: number) => (why: string) =>
  Errors.validation(`invalid content for a ${name} (msg_type ${msgType}): ${why}`);

function rule(
  msgType: number,
  name: string,
  systemOnly: boolean,
  schema: TypeRule['schema'],
): [number, TypeRule] {
  const isImage = msgType === MsgType.IMAGE || msgType === MsgType.CUSTOM_EMOTICON;
  const invalid = isImage ? Errors.imageInvalid : invalidContent(name, msgType);
  return [msgType, { name, systemOnly, schema, invalid }];
}

const RULES: ReadonlyMap<number, TypeRule> = new Map([
  rule(MsgType.TEXT, 'text message', false, textContent),
  rule(MsgType.IMAGE, 'image', false, imageContent),
  rule(MsgType.CUSTOM_EMOTICON, 'custom emoticon', false, imageContent),
  rule(MsgType.SHARE, 'share', false, shareContent),
  rule(MsgType.MINI_PROGRAM, 'mini program', false, miniProgramContent),
  rule(MsgType.SHARE_OTHER, 'share', false, shareOtherContent),
  rule(MsgType.NOTIFICATION, 'notification', true, notificationContent),
  rule(MsgType.VIDEO_PUSH, 'video push', true, videoPushContent),
  rule(MsgType.ARTICLE_PUSH, 'article push', true, articlePushContent),
  rule(MsgType.IMAGE_CARD, 'image card', true, imageCardContent),
  rule(MsgType.FOLLOW_AUTO_PUSH, 'follow auto-push', true, followAutoPushContent),
  rule(MsgType.SYSTEM_TIP, 'system tip', true, systemTipContent),
  rule(MsgType.AI, 'AI message', true, aiContent),
  ...[301, 302, 303, 304, 305, 306].map((t) => rule(t, 'group notice', true, groupNoticeContent)),
]);

/** The msg_types a user may send, and those only the platform may. */
export const USER_MSG_TYPES: readonly number[] = [...RULES]
  .filter(([, r]) => !r.systemOnly)
  .map(([t]) => t);
export const SYSTEM_MSG_TYPES: readonly number[] = [...RULES]
  .filter(([, r]) => r.systemOnly)
  .map(([t]) => t);

// ---- validation -----------------------------------------------------------------------------

/** One line naming the first problem: `url: must be an http(s) URL`. */
function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return issue.received === 'undefined'
      ? `${where}is required`
      : `${where}must be ${issue.expected}, not ${issue.received}`;
  }
  return `${where}${issue.message}`;
}

/** The first string, anywhere in `value`, that PostgreSQL cannot store; its path. */
function unstorablePath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return isStorableText(value) ? null : path;
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    const found = unstorablePath(inner, path === '' ? key : `${path}.${key}`);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The byte bound of a content. A text message's widens to fit its longest allowed text fully
 * escaped (`\ud83d\ude00`: 12 bytes a code point), so that a user over the text limit meets
 * 21007 and not this bound.
 */
function contentBound(msgType: number, limits: ContentLimits): number {
  return msgType === MsgType.TEXT
    ? Math.max(MAX_CONTENT_BYTES, 12 * limits.maxTextLength + 64)
    : MAX_CONTENT_BYTES;
}

/**
 * Checks the content of a message of `msgType` and normalizes it (see the table above). Checks,
 * in order: the type (21035), the size (40000), the JSON and its fields (21037 for images, else
 * 40000), then a text's length (21007).
 */
export function validateContent(
  msgType: number,
  content: string,
  limits: ContentLimits,
): ValidContent {
  const typeRule = RULES.get(msgType);
  if (!typeRule || (typeRule.systemOnly && limits.system !== true)) {
    throw Errors.msgTypeUnsupported(msgType);
  }
  const bound = contentBound(msgType, limits);
  if (Buffer.byteLength(content, 'utf8') > bound) {
    throw Errors.validation(`content is larger than ${bound} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    throw typeRule.invalid('content must be JSON text of an object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw typeRule.invalid('content must be JSON text of an object');
  }
  const checked = typeRule.schema.safeParse(parsed);
  if (!checked.success) throw typeRule.invalid(describe(checked.error));
  const badString = unstorablePath(checked.data, '');
  if (badString !== null) {
    throw typeRule.invalid(`${badString}: must not hold NUL or unpaired UTF-16 surrogates`);
  }
  let text: string | null = null;
  if (msgType === MsgType.TEXT) {
    text = (checked.data as z.infer<typeof textContent>).content;
    if ([...text].length > limits.maxTextLength) throw Errors.messageTooLong(limits.maxTextLength);
  }
  const normalized = JSON.stringify(checked.data);
  // Normalizing can lengthen numbers (1e20 → 100000000000000000000): bound what is stored too.
  if (Buffer.byteLength(normalized, 'utf8') > bound) {
    throw Errors.validation(`content is larger than ${bound} bytes`);
  }
  return { msgType, content: normalized, text };
}
