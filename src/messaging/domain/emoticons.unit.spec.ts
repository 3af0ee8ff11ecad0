import {
  emoticonCatalog,
  EmoticonCatalog,
  EmoticonInfo,
  findEmoticons,
  MAX_EMOTICONS_PER_MESSAGE,
} from './emoticons';

const emote = (name: string, extra: Partial<EmoticonInfo> = {}): EmoticonInfo => ({
  text: `[${name}]`,
  uri: `https://i0.example.com/bfs/emote/${encodeURIComponent(name)}.png`,
  size: 1,
  ...extra,
});

const TV_DOGE = emote('tv_doge', { gif_url: 'https://i0.example.com/bfs/emote/tv_doge.gif' });
const MASK = emote('口罩');
const BIG = emote('2233娘_大笑', { size: 2 });
const TV_SMILE = emote('tv_微笑');

const CATALOG: EmoticonCatalog = emoticonCatalog([TV_DOGE, MASK, BIG, TV_SMILE], {
  '[doge]': '[tv_doge]',
  '[微笑]': '[tv_微笑]',
});

/** given(catalog).when(text, newFaceVersion).then(...names) */
function given(catalog: EmoticonCatalog = CATALOG) {
  return {
    when(text: string, newFaceVersion = 1) {
      return {
        then(...expected: EmoticonInfo[]) {
          expect(findEmoticons(text, catalog, newFaceVersion)).toEqual(expected);
        },
      };
    },
  };
}

describe('findEmoticons', () => {
  it('finds an emoticon of the catalog with every field of e_infos', () => {
    const [found] = findEmoticons('催更[tv_doge]', CATALOG, 1);
    expect(found).toEqual({
      text: '[tv_doge]',
      uri: 'https://i0.example.com/bfs/emote/tv_doge.png',
      size: 1,
      gif_url: 'https://i0.example.com/bfs/emote/tv_doge.gif',
    });
  });

  it('lists each emoticon once, in order of first appearance', () => {
    given().when('[口罩]hi[tv_doge][口罩] [2233娘_大笑][tv_doge]').then(MASK, TV_DOGE, BIG);
  });

  it('finds nothing in text without emoticons', () => {
    given().when('up主你好,\n催更').then();
    given().when('').then();
  });

  it('ignores bracketed names the catalog does not hold', () => {
    given().when('[不存在] [tv_doge] [TV_DOGE] [ tv_doge]').then(TV_DOGE);
  });

  it('finds names inside other brackets and next to each other', () => {
    given().when('[[tv_doge]][口罩][tv_doge').then(TV_DOGE, MASK);
    given().when('[a[口罩]').then(MASK);
  });

  it('does not read a name across a line break', () => {
    given().when('[tv_\ndoge]').then();
  });

  describe('new_face_version', () => {
    it('maps an old name to the current one under version 0, as the seed does [doge]', () => {
      given().when('up主你好,\n催更[doge]', 0).then(TV_DOGE);
    });

    it('counts an old and a current name of one emoticon once', () => {
      given().when('[doge][tv_doge][微笑][doge]', 0).then(TV_DOGE, TV_SMILE);
    });

    it('takes names as written under version 1', () => {
      given().when('[doge][tv_doge]', 1).then(TV_DOGE);
      given().when('[doge]', 1).then();
    });

    it('prefers the alias under version 0 when an old name is also a current one', () => {
      // Given a catalog where [口罩] is current and also the old name of [tv_doge]
      const catalog = emoticonCatalog([TV_DOGE, MASK], { '[口罩]': '[tv_doge]' });
      given(catalog).when('[口罩]', 0).then(TV_DOGE);
      given(catalog).when('[口罩]', 1).then(MASK);
    });
  });

  it(`reports at most ${MAX_EMOTICONS_PER_MESSAGE} emoticons`, () => {
    const many = Array.from({ length: 60 }, (_, i) => emote(`e${i}`));
    const catalog = emoticonCatalog(many);
    const text = many.map((e) => e.text).join('');
    const found = findEmoticons(text, catalog, 1);
    expect(found).toHaveLength(MAX_EMOTICONS_PER_MESSAGE);
    expect(found[0]).toEqual(many[0]);
    expect(found[49]).toEqual(many[49]);
    expect(findEmoticons(text, catalog, 1, 3)).toEqual(many.slice(0, 3));
  });

  it('hands out entries a caller cannot change in the catalog', () => {
    const [found] = findEmoticons('[口罩]', CATALOG, 1);
    expect(Object.isFrozen(found)).toBe(true);
  });
});

describe('emoticonCatalog', () => {
  it('rejects a name without brackets', () => {
    expect(() => emoticonCatalog([{ ...MASK, text: '口罩' }])).toThrow(/口罩: not an emoticon/);
  });

  it('rejects a name listed twice', () => {
    expect(() => emoticonCatalog([MASK, MASK])).toThrow(/\[口罩\]: listed twice/);
  });

  it('rejects an alias to a name it does not hold', () => {
    expect(() => emoticonCatalog([MASK], { '[doge]': '[tv_doge]' })).toThrow(
      /alias \[doge\]: \[tv_doge\] is not in the catalog/,
    );
  });

  it('rejects an alias that is no name', () => {
    expect(() => emoticonCatalog([TV_DOGE], { doge: '[tv_doge]' })).toThrow(/alias doge/);
  });
});
