import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  CatalogError,
  defaultCatalogPaths,
  loadContentCatalogs,
  packageRoot,
} from './content-catalogs';
import { findEmoticons } from './emoticons';
import { matchKeywordRules } from './keyword-rules';

const ROOT = join(__dirname, '..', '..', '..');

const VALID_EMOTICONS = {
  emoticons: [
    {
      text: '[tv_doge]',
      uri: 'https://i0.example.com/a.png',
      size: 1,
      gif_url: 'https://x.y/a.gif',
    },
    { text: '[口罩]', uri: 'https://i0.example.com/b.png', size: 2 },
  ],
  aliases: { '[doge]': '[tv_doge]' },
};
const VALID_RULES = { rules: [{ rule_id: 2, keywords: ['支付宝'], toast: 't' }] };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'catalogs-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `content` (JSON unless a string) as a file of the test's folder; returns its path. */
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** given(emoticonsFile, rulesFile).thenFails(...patterns): the files written, then loaded. */
function given(emoticons: unknown, rules: unknown = VALID_RULES) {
  const paths = {
    emoticons: file('emoticons.json', emoticons),
    keywordRules: file('rules.json', rules),
  };
  return {
    paths,
    /** Asserts loading fails with a message matching every pattern. */
    thenFails(...patterns: RegExp[]): void {
      let thrown: unknown;
      try {
        loadContentCatalogs(paths);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(CatalogError);
      for (const p of patterns) expect((thrown as Error).message).toMatch(p);
    },
  };
}

describe('loadContentCatalogs', () => {
  describe('the shipped files', () => {
    it('finds the package from src/ and from dist/, whatever the working directory', () => {
      expect(packageRoot()).toBe(ROOT);
      expect(packageRoot(join(ROOT, 'dist', 'src', 'messaging', 'domain'))).toBe(ROOT);
      expect(defaultCatalogPaths()).toEqual({
        emoticons: join(ROOT, 'config', 'emoticons.json'),
        keywordRules: join(ROOT, 'config', 'keyword-rules.json'),
      });
    });

    it('loads them by default and they answer the seed examples', () => {
      const { emoticons, keywordRules } = loadContentCatalogs({});
      expect(emoticons.byText.size).toBeGreaterThanOrEqual(24);
      const [doge] = findEmoticons('up主你好,\n催更[doge]', emoticons, 0);
      expect(doge.text).toBe('[tv_doge]');
      expect(doge.uri).toMatch(/^https:\/\//);
      expect(doge.gif_url).toMatch(/^https:\/\//);
      expect(matchKeywordRules('支付宝', keywordRules)).toMatchObject({
        rule_id: 2,
        toast:
          '【温馨提示】为保障消费者权益,根据平台规则,如创作者在与消费者沟通中进行发布要求非法转账、欺诈转账等违规行为,平台有权对此进行处罚,感谢您的理解。',
      });
      expect(keywordRules.length).toBeGreaterThanOrEqual(2);
    });

    it('holds both sizes, and animated and still emoticons', () => {
      const { emoticons } = loadContentCatalogs();
      const all = [...emoticons.byText.values()];
      expect(new Set(all.map((e) => e.size))).toEqual(new Set([1, 2]));
      expect(all.some((e) => e.gif_url)).toBe(true);
      expect(all.some((e) => !e.gif_url)).toBe(true);
    });
  });

  it('reads the files it is given, relative paths from the working directory', () => {
    const { paths } = given(VALID_EMOTICONS);
    const catalogs = loadContentCatalogs({
      emoticons: relative(process.cwd(), paths.emoticons),
      keywordRules: paths.keywordRules,
    });
    expect([...catalogs.emoticons.byText.keys()]).toEqual(['[tv_doge]', '[口罩]']);
    expect(catalogs.emoticons.aliases.get('[doge]')).toBe('[tv_doge]');
    expect(catalogs.keywordRules).toEqual(VALID_RULES.rules);
  });

  it('takes a catalog without aliases', () => {
    const { paths } = given({ emoticons: VALID_EMOTICONS.emoticons });
    expect(loadContentCatalogs(paths).emoticons.aliases.size).toBe(0);
  });

  it('mixes a given file with a shipped one', () => {
    const { paths } = given(VALID_EMOTICONS);
    const catalogs = loadContentCatalogs({ emoticons: paths.emoticons });
    expect(catalogs.emoticons.byText.size).toBe(2);
    expect(catalogs.keywordRules[0].rule_id).toBe(2);
  });

  describe('a bad file stops the start, naming the file and the problem', () => {
    it('a missing file', () => {
      const missing = join(dir, 'nope.json');
      expect(() => loadContentCatalogs({ emoticons: missing })).toThrow(
        new RegExp(`cannot read the emoticon catalog ${escape(missing)}: ENOENT`),
      );
    });

    it('a file that is not JSON', () => {
      const bad = given('{"emoticons": [');
      bad.thenFails(
        new RegExp(`the emoticon catalog ${escape(bad.paths.emoticons)} is not valid JSON`),
      );
    });

    it.each([
      [
        'a size other than 1 or 2',
        { emoticons: [{ ...VALID_EMOTICONS.emoticons[1], size: 3 }] },
        /emoticons\.0\.size: must be 1 \(small\) or 2 \(large\)/,
      ],
      [
        'a name without brackets',
        { emoticons: [{ ...VALID_EMOTICONS.emoticons[1], text: '口罩' }] },
        /emoticons\.0\.text: must be a name in brackets/,
      ],
      [
        'a uri that is no URL',
        { emoticons: [{ ...VALID_EMOTICONS.emoticons[1], uri: 'b.png' }] },
        /emoticons\.0\.uri/,
      ],
      [
        'a javascript: gif_url',
        { emoticons: [{ ...VALID_EMOTICONS.emoticons[1], gif_url: 'javascript:alert(1)' }] },
        /emoticons\.0\.gif_url: must be an http\(s\) URL/,
      ],
      [
        'a misspelt field',
        { emoticons: [{ ...VALID_EMOTICONS.emoticons[1], url: 'https://x.y/z' }] },
        /Unrecognized key\(s\) in object: 'url'/,
      ],
      [
        'a name listed twice',
        { emoticons: [VALID_EMOTICONS.emoticons[1], VALID_EMOTICONS.emoticons[1]] },
        /\[口罩\]: listed twice/,
      ],
      [
        'an alias to nothing',
        { ...VALID_EMOTICONS, aliases: { '[doge]': '[狗头]' } },
        /alias \[doge\]: \[狗头\] is not in the catalog/,
      ],
      ['no emoticons list', { aliases: {} }, /emoticons: Required/],
    ])('an emoticon catalog with %s', (_what, content, message) => {
      const bad = given(content);
      bad.thenFails(
        new RegExp(`the emoticon catalog ${escape(bad.paths.emoticons)} is not valid`),
        message,
      );
    });

    it.each([
      [
        'an empty keyword',
        { rules: [{ ...VALID_RULES.rules[0], keywords: [''] }] },
        /rules\.0\.keywords\.0/,
      ],
      ['no keywords', { rules: [{ ...VALID_RULES.rules[0], keywords: [] }] }, /rules\.0\.keywords/],
      [
        'a NUL in a keyword',
        { rules: [{ ...VALID_RULES.rules[0], keywords: ['a\u0000'] }] },
        /rules\.0\.keywords\.0: must not hold NUL/,
      ],
      ['an empty toast', { rules: [{ ...VALID_RULES.rules[0], toast: '' }] }, /rules\.0\.toast/],
      ['a rule_id of 0', { rules: [{ ...VALID_RULES.rules[0], rule_id: 0 }] }, /rules\.0\.rule_id/],
      [
        'a rule_id used twice',
        { rules: [VALID_RULES.rules[0], VALID_RULES.rules[0]] },
        /rules\.1\.rule_id: rule_id 2 is used twice/,
      ],
      ['a top-level array', VALID_RULES.rules, /\(root\): Expected object, received array/],
    ])('keyword rules with %s', (_what, content, message) => {
      const bad = given(VALID_EMOTICONS, content);
      bad.thenFails(
        new RegExp(`the keyword rules ${escape(bad.paths.keywordRules)} is not valid`),
        message,
      );
    });
  });
});
