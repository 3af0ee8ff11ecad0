import { DomainError, ErrorCodes } from '../../common/errors';
import {
  ContentLimits,
  MAX_CONTENT_BYTES,
  SYSTEM_MSG_TYPES,
  USER_MSG_TYPES,
  validateContent,
  ValidContent,
} from './content';

const USER: ContentLimits = { maxTextLength: 500 };
const SYSTEM: ContentLimits = { maxTextLength: 500, system: true };

/** given(limits).when(msgType, content).then(normalized) / .thenThrows(code) */
function given(limits: ContentLimits = USER) {
  return {
    when(msgType: number, content: string | object) {
      const raw = typeof content === 'string' ? content : JSON.stringify(content);
      return {
        /** Asserts the content is accepted and stored as `normalized`; returns the result. */
        then(normalized: object, text: string | null = null): ValidContent {
          const result = validateContent(msgType, raw, limits);
          expect(JSON.parse(result.content)).toEqual(normalized);
          expect(result).toEqual({ msgType, content: JSON.stringify(normalized), text });
          return result;
        },
        thenThrows(code: number): DomainError {
          let thrown: unknown;
          try {
            validateContent(msgType, raw, limits);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(DomainError);
          expect((thrown as DomainError).code).toBe(code);
          return thrown as DomainError;
        },
      };
    },
  };
}

// Examples of private_msg_content.md, as the doc gives them.
const DOC_IMAGE = {
  url: 'https://message.biliimg.com/bfs/im_new/c161fdf51d901c1607a15e30f10116dd425503913.jpg',
  height: 300,
  width: 300,
  imageType: 'jpeg',
  original: 1,
  size: 55.443,
};
const DOC_SHARE = {
  author: '社会易姐QwQ',
  headline: '',
  id: 246551172,
  source: 5,
  thumb: 'http://i2.hdslb.com/bfs/archive/14ba78056f946ece8c954a10677ef6b073edb178.jpg',
  title: '合 成 大 東 瓜',
  bvid: 'BV16v411e7CW',
};
const DOC_MINI_PROGRAM = {
  avatar: 'http://i0.hdslb.com/bfs/mall/mall/7b/dd/7bdd072290de017593791b52e937ca29.png',
  cover: 'http://i0.hdslb.com/bfs/mall/mall/7b/dd/7bdd072290de017593791b52e937ca29.png',
  id: 'bili91e3e7e93af281f9',
  jump_uri: 'https://mall.bilibili.com/miniapp/bili91e3e7e93af281f9/pages/main?___timestamp=1',
  label_cover: 'https://i0.hdslb.com/bfs/mall/mall/ae/0e/ae0ee4a857df5e307e1d04b5d420cb5b.png',
  label_name: '小程序',
  name: '主站测试专用小程序',
  title: '主站测试专用小程序',
};
const DOC_SHARE_LIVE = {
  author: '哔哩哔哩晚会',
  cover: 'https://i1.hdslb.com/bfs/face/1b593d28fcd0cf63837c3ea80ac96d01bb85ec3b.jpg',
  desc: '主播：哔哩哔哩晚会 https://live.bilibili.com/21738461',
  source: '直播',
  title: '2023最美的夜 bilibili晚会',
  url: 'https://live.bilibili.com/21738461?broadcast_type=0&is_room_feed=1',
};
const DOC_NOTIFICATION = {
  title: '直播开始提醒',
  text: '你预约的直播已开始，快来围观吧~',
  jump_text: '进入直播间',
  jump_uri: 'https://live.bilibili.com/22747055?broadcast_type=0&is_room_feed=1&live_from=27040',
  modules: [
    { title: '预约主题', detail: '2024哔哩哔哩拜年纪' },
    { title: '开播时间', detail: '2024-02-09 19:32' },
    { title: 'UP主', detail: '哔哩哔哩拜年纪' },
  ],
  jump_text_2: '',
  jump_uri_2: '',
  jump_text_3: '',
  jump_uri_3: '',
  notifier: null,
  jump_uri_config: {
    all_uri: 'https://live.bilibili.com/22747055?broadcast_type=0&is_room_feed=1&live_from=27040',
    text: '进入直播间',
  },
  jump_uri_2_config: { text: '' },
  jump_uri_3_config: { text: '' },
  biz_content: {
    cover: '',
    backup_cover: 'http://i0.hdslb.com/bfs/live/new_room_cover/bdae2665883ec8aa4e79aca16f3c5e.jpg',
    refresh_type: 1,
    biz_type: 2,
    biz_id1: '1868902080',
    biz_id2: '473923647994271663',
    biz_status: 0,
  },
};
const DOC_VIDEO_PUSH = {
  title: '【2023嵌入式大赛】浅浅测试一下龙芯开发板',
  times: 308,
  cover: 'http://i2.hdslb.com/bfs/archive/880c937de9af758451aa94ee29771e0264c1903a.jpg',
  rid: 740817783,
  type_: 8,
  desc: '最近把龙芯开发板部分（任务一）程序完成了\n硬件使用龙芯一号（LS1B010）SOC',
  bvid: 'BV1Dk4y1E7MZ',
  view: 13492,
  danmaku: 5,
  pub_date: 1683381582,
  attach_msg: null,
};
const DOC_ARTICLE_PUSH = {
  rid: 18275013,
  title: '【单片机】遛弯捕捉到野生U盾，点亮它！',
  summary: '前一阵在学校那会，偶然的机会晚上饭后出去遛弯',
  author: '社会易姐QwQ',
  view: 872,
  like: 38,
  reply: 7,
  template_id: 4,
  image_urls: ['https://i0.hdslb.com/bfs/article/c7c60e018c43c5c3a6e1520239021ea2753b2880.jpg'],
  attach_msg: null,
  pub_date: 1661358081,
};
const DOC_IMAGE_CARD = {
  pic_url: 'http://i0.hdslb.com/bfs/location/9e57aff7245c226c05ba46ddd1e82667f74d5a06.png',
  jump_url: 'https://www.bilibili.com/h5/mall/suit/detail?navhide=1&id=66359&from=Banner',
  title: '原神，启动！',
};
const DOC_FOLLOW_AUTO_PUSH = {
  main_title: '更多宝藏内容',
  reply_content: '感谢大佬关注哦～[doge][脱单doge][doge]\n这里是科技区底边小UP',
  sub_cards: [
    {
      card_id: 379743801,
      card_type: 1,
      jump_url: 'https://b23.tv/BV1hZ4y197Cz',
      cover_url: 'http://i2.hdslb.com/bfs/archive/bfb87f033272926efe6ff4caee8e6c49c07ff6fe.jpg',
      field1: '【宿舍评测】性能与便携两全 华为matebook E 2022深度体验及伪开箱',
      field2: '2021-12-10',
      field3: '20万',
      icon3: 1,
      field4: '479',
      icon4: 3,
    },
  ],
};
const DOC_SYSTEM_TIP = {
  content:
    '[{"text":"对方主动回复或关注你前，最多发送1条消息","color_day":"#9499A0","color_nig":"#9499A0"}]',
};
const DOC_GROUP_NOTICE = { group_id: 221082140, content: '欢迎wuziqian211入群' };

describe('validateContent', () => {
  describe('message types', () => {
    it('lets users send text, image, custom emoticon, share, mini program and other shares', () => {
      expect([...USER_MSG_TYPES].sort((a, b) => a - b)).toEqual([1, 2, 6, 7, 9, 14]);
    });

    it('keeps notifications, pushes, image cards, tips, AI and group notices to the platform', () => {
      expect([...SYSTEM_MSG_TYPES].sort((a, b) => a - b)).toEqual([
        10, 11, 12, 13, 16, 18, 19, 301, 302, 303, 304, 305, 306,
      ]);
    });

    it.each([0, -1, 1.5, 3, 4, 15, 17, 20, 300, 307, 999])(
      'rejects msg_type %d, which the doc does not define, with 21035',
      (msgType) => {
        given(SYSTEM).when(msgType, { content: 'hi' }).thenThrows(ErrorCodes.MSG_TYPE_UNSUPPORTED);
        expect(ErrorCodes.MSG_TYPE_UNSUPPORTED).toBe(21035);
      },
    );

    it('rejects a recall (5), which is a command of its own, with 21035 even from the platform', () => {
      given(SYSTEM).when(5, '7345551441311046575').thenThrows(ErrorCodes.MSG_TYPE_UNSUPPORTED);
    });

    it('rejects the retired system recall (8) with 21035 even from the platform', () => {
      given(SYSTEM).when(8, '7345551441311046575').thenThrows(ErrorCodes.MSG_TYPE_UNSUPPORTED);
    });

    it.each(SYSTEM_MSG_TYPES)('rejects system-only msg_type %d from a user with 21035', (t) => {
      given(USER).when(t, DOC_GROUP_NOTICE).thenThrows(ErrorCodes.MSG_TYPE_UNSUPPORTED);
    });

    it('checks the type before the content', () => {
      given(USER).when(10, 'not json').thenThrows(ErrorCodes.MSG_TYPE_UNSUPPORTED);
      given(USER)
        .when(42, 'x'.repeat(MAX_CONTENT_BYTES + 1))
        .thenThrows(21035);
    });

    it('lets the platform send the user types too', () => {
      given(SYSTEM).when(1, { content: 'hi' }).then({ content: 'hi' }, 'hi');
      given(SYSTEM).when(2, DOC_IMAGE).then(DOC_IMAGE);
    });
  });

  describe('the JSON around the fields', () => {
    it.each([
      ['content that is not JSON', 'hello'],
      ['an empty content string', ''],
      ['truncated JSON', '{"content":"hi"'],
      ['JSON null', 'null'],
      ['a JSON string', '"hello"'],
      ['a JSON number', '42'],
      ['a JSON array', '["hello"]'],
    ])('rejects %s with 40000', (_what, content) => {
      given().when(1, content).thenThrows(ErrorCodes.VALIDATION_FAILED);
      given().when(7, content).thenThrows(ErrorCodes.VALIDATION_FAILED);
      expect(ErrorCodes.VALIDATION_FAILED).toBe(40000);
    });

    it('rejects content over 8 KiB with 40000, counting UTF-8 bytes', () => {
      // 2731 CJK characters: 2731 UTF-16 units but 8193 bytes.
      const share = { ...DOC_SHARE, title: '瓜'.repeat(2731) };
      const raw = JSON.stringify(share);
      expect(raw.length).toBeLessThan(MAX_CONTENT_BYTES);
      given().when(7, share).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });

    it('bounds the content before looking at it, unknown fields included', () => {
      const padded = { content: 'hi', padding: 'x'.repeat(MAX_CONTENT_BYTES) };
      given().when(1, padded).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });

    it('bounds the stored content too, which normalizing can lengthen', () => {
      // Given a push just under the bound whose number is written short
      const title = 'x'.repeat(MAX_CONTENT_BYTES - 30);
      const raw = `{"rid":1e15,"title":"${title}"}`;
      expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(MAX_CONTENT_BYTES);
      // When it is normalized, 1e15 becomes 1000000000000000 and the content grows past it
      given(SYSTEM).when(12, raw).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });

    it('drops unknown fields and keeps the known ones in the documented order', () => {
      const result = given()
        .when(2, { size: 1, extra: 'x', url: 'https://i0.example.com/a.png', __proto__x: 1 })
        .then({ url: 'https://i0.example.com/a.png', size: 1 });
      expect(result.content).toBe('{"url":"https://i0.example.com/a.png","size":1}');
    });

    it('drops a __proto__ field like any unknown one', () => {
      given()
        .when(1, '{"content":"hi","__proto__":{"polluted":true}}')
        .then({ content: 'hi' }, 'hi');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('drops unknown fields of nested objects too', () => {
      const notice = { ...DOC_NOTIFICATION, modules: [{ title: 't', detail: 'd', color: 'red' }] };
      const result = given(SYSTEM)
        .when(10, notice)
        .then({ ...DOC_NOTIFICATION, modules: [{ title: 't', detail: 'd' }] });
      expect(result.content).not.toContain('color');
    });

    it.each([
      ['a NUL', 'a\u0000b'],
      ['an unpaired high surrogate', 'a\ud800b'],
      ['an unpaired low surrogate', '\udc00'],
    ])('rejects a string holding %s, which PostgreSQL cannot store', (_what, bad) => {
      given().when(1, { content: bad }).thenThrows(ErrorCodes.VALIDATION_FAILED);
      given()
        .when(7, { ...DOC_SHARE, author: bad })
        .thenThrows(ErrorCodes.VALIDATION_FAILED);
      given().when(2, { url: DOC_IMAGE.url, imageType: bad }).thenThrows(ErrorCodes.IMAGE_INVALID);
      const error = given(SYSTEM)
        .when(10, { ...DOC_NOTIFICATION, modules: [{ title: 'ok', detail: bad }] })
        .thenThrows(ErrorCodes.VALIDATION_FAILED);
      expect(error.message).toContain('modules.0.detail');
    });

    it('ignores a bad string in a field it drops', () => {
      given().when(1, { content: 'hi', junk: 'a\u0000b' }).then({ content: 'hi' }, 'hi');
    });
  });

  describe('text (1)', () => {
    it('accepts the seed example and returns its text', () => {
      given()
        .when(1, '{"content":"up主你好,\\n催更[doge]"}')
        .then({ content: 'up主你好,\n催更[doge]' }, 'up主你好,\n催更[doge]');
    });

    it.each([
      ['an object without content', '{}'],
      ['an object with another field', '{"text":"hello"}'],
      ['a numeric content', '{"content":42}'],
      ['a null content', '{"content":null}'],
      ['an object content', '{"content":{"content":"hi"}}'],
      ['empty text', '{"content":""}'],
    ])('rejects %s with 40000', (_what, content) => {
      given().when(1, content).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });

    it('names the field and the problem', () => {
      expect(given().when(1, '{}').thenThrows(40000).message).toMatch(/content: is required/);
      expect(given().when(1, '{"content":42}').thenThrows(40000).message).toMatch(
        /content: must be string, not number/,
      );
    });

    it('rejects text longer than the limit with 21007 and accepts exactly the limit', () => {
      const limits = { maxTextLength: 5 };
      given(limits).when(1, { content: 'abcdef' }).thenThrows(ErrorCodes.MSG_TOO_LONG);
      given(limits).when(1, { content: 'abcde' }).then({ content: 'abcde' }, 'abcde');
      expect(ErrorCodes.MSG_TOO_LONG).toBe(21007);
    });

    it('counts length in code points, not UTF-16 units or bytes', () => {
      const limits = { maxTextLength: 5 };
      given(limits)
        .when(1, { content: '😀'.repeat(5) })
        .then({ content: '😀'.repeat(5) }, '😀'.repeat(5));
      given(limits)
        .when(1, { content: '😀'.repeat(6) })
        .thenThrows(ErrorCodes.MSG_TOO_LONG);
    });

    it('measures the text, not the JSON escapes around it', () => {
      given({ maxTextLength: 5 })
        .when(1, { content: '"\\"\n\t' })
        .then({ content: '"\\"\n\t' }, '"\\"\n\t');
    });

    it('answers 21007, not the byte bound, for a long text under a large limit', () => {
      // Given a limit whose longest text, escaped as \uXXXX pairs, is far over 8 KiB
      const limits = { maxTextLength: 3000 };
      const escaped = (n: number) => `{"content":"${'\\ud83d\\ude00'.repeat(n)}"}`;
      expect(escaped(3000).length).toBeGreaterThan(4 * MAX_CONTENT_BYTES);
      // Then the longest allowed text passes, and one more character is too long
      expect(validateContent(1, escaped(3000), limits).text).toBe('😀'.repeat(3000));
      given(limits).when(1, escaped(3001)).thenThrows(ErrorCodes.MSG_TOO_LONG);
    });
  });

  describe.each([
    [2, 'image'],
    [6, 'custom emoticon'],
  ])('%s %s', (msgType) => {
    it('accepts the doc example with every field', () => {
      given().when(msgType, DOC_IMAGE).then(DOC_IMAGE);
    });

    it('accepts the seed example, a url alone', () => {
      const seed = {
        url: 'https://i1.hdslb.com/bfs/face/aebb2639a0d47f2ce1fec0631f412eaf53d4a0be.jpg',
      };
      given().when(msgType, seed).then(seed);
    });

    it('accepts original 0 and a size of 0', () => {
      given()
        .when(msgType, { url: DOC_IMAGE.url, original: 0, size: 0 })
        .then({ url: DOC_IMAGE.url, original: 0, size: 0 });
    });

    it.each([
      ['no url', { height: 300 }],
      ['a numeric url', { url: 42 }],
      ['a relative url', { url: '/bfs/a.png' }],
      ['a javascript: url', { url: 'javascript:alert(1)' }],
      ['a data: url', { url: 'data:image/png;base64,AAAA' }],
      ['an ftp url', { url: 'ftp://example.com/a.png' }],
      ['a url with credentials', { url: 'https://user:pw@example.com/a.png' }],
      ['a url that is not one', { url: 'https://' }],
      ['a zero height', { url: DOC_IMAGE.url, height: 0 }],
      ['a negative width', { url: DOC_IMAGE.url, width: -1 }],
      ['a fractional width', { url: DOC_IMAGE.url, width: 1.5 }],
      ['a height given as text', { url: DOC_IMAGE.url, height: '300' }],
      ['a numeric imageType', { url: DOC_IMAGE.url, imageType: 1 }],
      ['an empty imageType', { url: DOC_IMAGE.url, imageType: '' }],
      ['original 2', { url: DOC_IMAGE.url, original: 2 }],
      ['original true', { url: DOC_IMAGE.url, original: true }],
      ['a negative size', { url: DOC_IMAGE.url, size: -1 }],
      ['content that is not JSON', 'https://i0.example.com/a.png'],
      ['a JSON array', '[]'],
    ])('rejects %s with 21037', (_what, content) => {
      given().when(msgType, content).thenThrows(ErrorCodes.IMAGE_INVALID);
      expect(ErrorCodes.IMAGE_INVALID).toBe(21037);
    });

    it('says what is wrong with the image', () => {
      const error = given()
        .when(msgType, { url: 'javascript:alert(1)' })
        .thenThrows(ErrorCodes.IMAGE_INVALID);
      expect(error.message).toMatch(/url: must be an http\(s\) URL/);
      const original = given()
        .when(msgType, { url: DOC_IMAGE.url, original: 2 })
        .thenThrows(ErrorCodes.IMAGE_INVALID);
      expect(original.message).toMatch(/original: must be 0 or 1/);
    });
  });

  describe('share (7)', () => {
    it('accepts the doc example', () => {
      given().when(7, DOC_SHARE).then(DOC_SHARE);
    });

    it('accepts an empty thumb and the optional url and source_desc', () => {
      const share = {
        id: 1,
        source: 16,
        source_desc: '番剧',
        thumb: '',
        title: 't',
        url: 'https://www.bilibili.com/bangumi/play/ep1',
      };
      given().when(7, share).then(share);
    });

    it('takes an id beyond 2^53 as a string of digits, keeping every digit', () => {
      const share = { ...DOC_SHARE, source: 11, id: '1012345678901234567', bvid: undefined };
      const result = given()
        .when(7, share)
        .then({ ...share, bvid: undefined });
      expect(result.content).toContain('"id":"1012345678901234567"');
    });

    it.each([
      [
        'an id beyond 2^53 as a number',
        '{"id":1012345678901234567,"source":11,"thumb":"","title":"t"}',
      ],
      ['a negative id', { ...DOC_SHARE, id: -1 }],
      ['an id string with letters', { ...DOC_SHARE, id: '12a' }],
      ['no id', { ...DOC_SHARE, id: undefined }],
      ['the retired source 1', { ...DOC_SHARE, source: 1 }],
      ['an unknown source', { ...DOC_SHARE, source: 12 }],
      ['no title', { ...DOC_SHARE, title: undefined }],
      ['no thumb', { ...DOC_SHARE, thumb: undefined }],
      ['a javascript: thumb', { ...DOC_SHARE, thumb: 'javascript:alert(1)' }],
      ['a javascript: url', { ...DOC_SHARE, url: 'javascript:alert(1)' }],
      ['a malformed bvid', { ...DOC_SHARE, bvid: 'av246551172' }],
      ['a numeric author', { ...DOC_SHARE, author: 1 }],
    ])('rejects %s with 40000', (_what, content) => {
      given().when(7, content).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });

    it('names a missing field as required, whatever its kind', () => {
      const error = given()
        .when(7, { ...DOC_SHARE, thumb: undefined })
        .thenThrows(40000);
      expect(error.message).toMatch(/thumb: is required/);
      expect(
        given()
          .when(7, { ...DOC_SHARE, id: undefined })
          .thenThrows(40000).message,
      ).toMatch(/id: is required/);
    });

    it('names the type and the field in the error', () => {
      const error = given()
        .when(7, { ...DOC_SHARE, source: 1 })
        .thenThrows(40000);
      expect(error.message).toMatch(/share \(msg_type 7\).*source: must be one of/);
    });
  });

  describe('mini program (9) and other shares (14)', () => {
    it('accepts the doc examples', () => {
      given().when(9, DOC_MINI_PROGRAM).then(DOC_MINI_PROGRAM);
      given().when(14, DOC_SHARE_LIVE).then(DOC_SHARE_LIVE);
    });

    it.each([
      [9, 'no jump_uri', { ...DOC_MINI_PROGRAM, jump_uri: undefined }],
      [9, 'a javascript: jump_uri', { ...DOC_MINI_PROGRAM, jump_uri: 'javascript:x' }],
      [9, 'an empty id', { ...DOC_MINI_PROGRAM, id: '' }],
      [9, 'no name', { ...DOC_MINI_PROGRAM, name: undefined }],
      [14, 'no url', { ...DOC_SHARE_LIVE, url: undefined }],
      [14, 'a cover that is no URL', { ...DOC_SHARE_LIVE, cover: 'cover.jpg' }],
      [14, 'a numeric source', { ...DOC_SHARE_LIVE, source: 4 }],
    ])('rejects a msg_type %d with %s with 40000', (msgType, _what, content) => {
      given().when(msgType, content).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });
  });

  describe('system types', () => {
    it.each([
      [10, DOC_NOTIFICATION],
      [11, DOC_VIDEO_PUSH],
      [12, DOC_ARTICLE_PUSH],
      [13, DOC_IMAGE_CARD],
      [16, DOC_FOLLOW_AUTO_PUSH],
      [18, DOC_SYSTEM_TIP],
      [19, { content_: '你好，我是AI助手', showLike_: 1, gptSessionId_: 12 }],
      [301, DOC_GROUP_NOTICE],
      [306, DOC_GROUP_NOTICE],
    ])('accepts msg_type %d as the doc shows it, from the platform', (msgType, content) => {
      given(SYSTEM).when(msgType, content).then(content);
    });

    it('accepts the short form of a push the doc warns of', () => {
      const short = { rid: 740817783, type: 8, attach_msg: { id: 3, content: 'UP主赠言：嗨' } };
      given(SYSTEM).when(11, short).then(short);
      given(SYSTEM)
        .when(12, { rid: 18275013, type: 12, attach_msg: null })
        .then({ rid: 18275013, type: 12, attach_msg: null });
    });

    it('keeps deep links of the platform as they are', () => {
      const card = { ...DOC_IMAGE_CARD, jump_url: 'bilibili://mall/suit/66359' };
      given(SYSTEM).when(13, card).then(card);
    });

    it('normalizes the tips inside a system tip', () => {
      const raw = { content: '[{"text":"t","color_day":"#fff","color_nig":"#000","x":1}]' };
      given(SYSTEM)
        .when(18, raw)
        .then({ content: '[{"text":"t","color_day":"#fff","color_nig":"#000"}]' });
    });

    it.each([
      [10, 'a notification without title', { ...DOC_NOTIFICATION, title: undefined }],
      [10, 'modules that are not an array', { ...DOC_NOTIFICATION, modules: 'x' }],
      [11, 'a push without rid', { ...DOC_VIDEO_PUSH, rid: undefined }],
      [12, 'a negative view count', { ...DOC_ARTICLE_PUSH, view: -1 }],
      [13, 'an image card without pic_url', { ...DOC_IMAGE_CARD, pic_url: undefined }],
      [
        16,
        'more than 10 cards',
        { ...DOC_FOLLOW_AUTO_PUSH, sub_cards: Array(11).fill({ card_id: 1 }) },
      ],
      [18, 'tips that are not JSON', { content: '[{' }],
      [18, 'a tip without text', { content: '[{"color_day":"#fff","color_nig":"#000"}]' }],
      [19, 'an AI message without content_', { showLike_: 1 }],
      [306, 'a group notice with group_id 0', { ...DOC_GROUP_NOTICE, group_id: 0 }],
    ])('rejects msg_type %d: %s, with 40000', (msgType, _what, content) => {
      given(SYSTEM).when(msgType, content).thenThrows(ErrorCodes.VALIDATION_FAILED);
    });

    it('says where inside the tips the problem is', () => {
      const error = given(SYSTEM)
        .when(18, { content: '[{"color_day":"#fff","color_nig":"#000"}]' })
        .thenThrows(40000);
      expect(error.message).toMatch(/content: 0\.text: is required/);
    });
  });
});
