/**
 * Emoticons of a message's text: the seed's `e_infos` (send_msg and fetch_session_msgs). An
 * emoticon is written in text as its name in square brackets (`[tv_doge]`); the catalog says which
 * names exist and how to draw them.
 */

/** One entry of `e_infos`, as the seed names its fields. */
export interface EmoticonInfo {
  /** The name with its brackets: `[tv_doge]`. */
  readonly text: string;
  /** The image. */
  readonly uri: string;
  /** 1 small, 2 large. */
  readonly size: 1 | 2;
  /** Only some emoticons are animated. */
  readonly gif_url?: string;
}

export interface EmoticonCatalog {
  /** The current emoticons by name, brackets included. */
  readonly byText: ReadonlyMap<string, EmoticonInfo>;
  /**
   * Old name → current name (`[doge]` → `[tv_doge]`), applied to messages of new_face_version 0:
   * the seed's clients that predate the current set still write the old names.
   */
  readonly aliases: ReadonlyMap<string, string>;
}

/** At most this many emoticons are reported for one message. */
export const MAX_EMOTICONS_PER_MESSAGE = 50;

/** A name: 1 to 32 UTF-16 units, no brackets, no line breaks. */
export const EMOTICON_NAME = /^\[[^[\]\r\n]{1,32}\]$/;
const TOKEN = /\[[^[\]\r\n]{1,32}\]/g;

/**
 * Builds a catalog. Throws when a name is malformed or repeated, or an alias points to no
 * emoticon: an alias that resolves to nothing would silently drop emoticons from `e_infos`.
 */
export function emoticonCatalog(
  emoticons: readonly EmoticonInfo[],
  aliases: Readonly<Record<string, string>> = {},
): EmoticonCatalog {
  const byText = new Map<string, EmoticonInfo>();
  for (const e of emoticons) {
    if (!EMOTICON_NAME.test(e.text)) throw new Error(`${e.text}: not an emoticon name like [name]`);
    if (byText.has(e.text)) throw new Error(`${e.text}: listed twice`);
    byText.set(e.text, Object.freeze({ ...e }));
  }
  const aliasMap = new Map<string, string>();
  for (const [from, to] of Object.entries(aliases)) {
    if (!EMOTICON_NAME.test(from))
      throw new Error(`alias ${from}: not an emoticon name like [name]`);
    if (!byText.has(to)) throw new Error(`alias ${from}: ${to} is not in the catalog`);
    aliasMap.set(from, to);
  }
  return { byText, aliases: aliasMap };
}

/**
 * The emoticons `text` uses: each distinct `[name]` of the catalog, in order of first appearance,
 * at most `max`. With `newFaceVersion` 0 (the seed: 0 or absent means the old set) old names are
 * first mapped to current ones, and an old and a current name of one emoticon count once. Other
 * versions use names as written. Names not in the catalog are plain text.
 */
export function findEmoticons(
  text: string,
  catalog: EmoticonCatalog,
  newFaceVersion: number,
  max: number = MAX_EMOTICONS_PER_MESSAGE,
): EmoticonInfo[] {
  const found = new Map<string, EmoticonInfo>();
  for (const [token] of text.matchAll(TOKEN)) {
    if (found.size >= max) break;
    const name = newFaceVersion === 0 ? (catalog.aliases.get(token) ?? token) : token;
    const info = catalog.byText.get(name);
    if (info && !found.has(name)) found.set(name, info);
  }
  return [...found.values()];
}
