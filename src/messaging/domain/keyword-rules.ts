/**
 * Keyword prompts: the seed's `key_hit_infos` of send_msg. When a text message to a user holds a
 * keyword of a rule (支付宝 …), the sender is shown the rule's toast and the words are highlighted.
 * The message is sent all the same: a rule warns, it does not block.
 */

export interface KeywordRule {
  readonly rule_id: number;
  /** Matched as substrings, Latin letters case-insensitively. */
  readonly keywords: readonly string[];
  readonly toast: string;
}

/**
 * One highlighted occurrence: the words as written in the message and where they are, in code
 * points from the start of the text, `end` exclusive (`text` is `[...message].slice(start, end)`).
 * The seed leaves `high_text`'s objects undescribed (`[ {} ]` in its example); this is our shape.
 */
export interface HighText {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface KeyHit {
  readonly toast: string;
  readonly rule_id: number;
  /** Every occurrence of the rule's keywords, in order, none overlapping. */
  readonly high_text: HighText[];
}

/** A hit, or `{}` when no rule matched (as the seed answers). */
export type KeyHitInfos = KeyHit | Record<string, never>;

/** At most this many occurrences are highlighted. */
export const MAX_HIGH_TEXT = 20;

const LATIN = /\p{Script=Latin}/u;

/**
 * Folds one code point for matching: Latin letters to lower case when that stays one code point
 * (offsets are counted on the original text, so folding must not change its length). Other scripts
 * are matched as written.
 */
function fold(codePoint: string): string {
  if (!LATIN.test(codePoint)) return codePoint;
  const lower = codePoint.toLowerCase();
  return [...lower].length === 1 ? lower : codePoint;
}

/**
 * The toast to show for `text`: the first rule, in the order given, that any of whose keywords
 * occurs in `text` wins, wherever in the text the occurrences of later rules are. Its occurrences
 * are reported left to right; where two keywords start at the same place the longer is taken, and
 * an occurrence that would overlap the previous one is skipped. Empty keywords never match.
 */
export function matchKeywordRules(text: string, rules: readonly KeywordRule[]): KeyHitInfos {
  const chars = [...text];
  const folded = chars.map(fold);
  for (const rule of rules) {
    const keywords = rule.keywords.map((k) => [...k].map(fold)).filter((k) => k.length > 0);
    const high: HighText[] = [];
    let at = 0;
    while (at < folded.length && high.length < MAX_HIGH_TEXT) {
      let longest = 0;
      for (const k of keywords) {
        if (k.length > longest && k.every((c, i) => folded[at + i] === c)) longest = k.length;
      }
      if (longest > 0) {
        high.push({ text: chars.slice(at, at + longest).join(''), start: at, end: at + longest });
        at += longest;
      } else {
        at += 1;
      }
    }
    if (high.length > 0) return { toast: rule.toast, rule_id: rule.rule_id, high_text: high };
  }
  return {};
}
