import { KeyHitInfos, KeywordRule, MAX_HIGH_TEXT, matchKeywordRules } from './keyword-rules';

// The seed's example of send_msg: {"content":"支付宝"} answers rule 2 with this toast.
const SEED_TOAST =
  '【温馨提示】为保障消费者权益,根据平台规则,如创作者在与消费者沟通中进行发布要求非法转账、欺诈转账等违规行为,平台有权对此进行处罚,感谢您的理解。';
const PAYMENT: KeywordRule = { rule_id: 2, keywords: ['支付宝'], toast: SEED_TOAST };
const CONTACT: KeywordRule = {
  rule_id: 3,
  keywords: ['加微信', 'wechat', '加vx'],
  toast: '请勿轻信站外联系方式',
};
const RULES = [PAYMENT, CONTACT];

/** given(...rules).when(text).then(keyHitInfos) */
function given(...rules: KeywordRule[]) {
  return {
    when(text: string) {
      return {
        then(expected: KeyHitInfos) {
          expect(matchKeywordRules(text, rules)).toEqual(expected);
        },
      };
    },
  };
}

describe('matchKeywordRules', () => {
  it('answers the seed example: 支付宝 hits rule 2 with its toast', () => {
    given(...RULES)
      .when('支付宝')
      .then({
        toast: SEED_TOAST,
        rule_id: 2,
        high_text: [{ text: '支付宝', start: 0, end: 3 }],
      });
  });

  it('answers {} when nothing hits, as the seed does', () => {
    given(...RULES)
      .when('up主你好,\n催更[doge]')
      .then({});
    given(...RULES)
      .when('')
      .then({});
    given().when('支付宝').then({});
  });

  it('lets the first rule in order win, wherever the later rules match', () => {
    given(...RULES)
      .when('加微信，用支付宝')
      .then({ toast: SEED_TOAST, rule_id: 2, high_text: [{ text: '支付宝', start: 5, end: 8 }] });
    given(CONTACT, PAYMENT)
      .when('支付宝或加微信')
      .then({
        toast: CONTACT.toast,
        rule_id: 3,
        high_text: [{ text: '加微信', start: 4, end: 7 }],
      });
  });

  it('falls through to a later rule when the first does not hit', () => {
    given(...RULES)
      .when('可以加微信吗')
      .then({
        toast: CONTACT.toast,
        rule_id: 3,
        high_text: [{ text: '加微信', start: 2, end: 5 }],
      });
  });

  it('highlights every occurrence of the winning rule, left to right', () => {
    given(...RULES)
      .when('wechat还是加微信? WeChat!')
      .then({
        toast: CONTACT.toast,
        rule_id: 3,
        high_text: [
          { text: 'wechat', start: 0, end: 6 },
          { text: '加微信', start: 8, end: 11 },
          { text: 'WeChat', start: 13, end: 19 },
        ],
      });
  });

  it('matches Latin letters in any case and reports them as written', () => {
    given(CONTACT)
      .when('加VX')
      .then({ toast: CONTACT.toast, rule_id: 3, high_text: [{ text: '加VX', start: 0, end: 3 }] });
    const accented: KeywordRule = { rule_id: 9, keywords: ['café'], toast: 't' };
    given(accented)
      .when('CAFÉ')
      .then({ toast: 't', rule_id: 9, high_text: [{ text: 'CAFÉ', start: 0, end: 4 }] });
  });

  it('counts offsets in code points', () => {
    // Two emoji before the keyword: 4 UTF-16 units, 2 code points.
    given(PAYMENT)
      .when('😀😀支付宝')
      .then({ toast: SEED_TOAST, rule_id: 2, high_text: [{ text: '支付宝', start: 2, end: 5 }] });
  });

  it('keeps offsets of the text as written when folding would change a length', () => {
    // 'İ' lower-cases to two code points: it is left as written, and offsets stay true.
    const rule: KeywordRule = { rule_id: 5, keywords: ['pay'], toast: 't' };
    given(rule)
      .when('İPAY')
      .then({ toast: 't', rule_id: 5, high_text: [{ text: 'PAY', start: 1, end: 4 }] });
  });

  it('takes the longest keyword where two start at the same place, without overlaps', () => {
    const rule: KeywordRule = { rule_id: 7, keywords: ['刷单', '刷单返利', '返利群'], toast: 't' };
    given(rule)
      .when('刷单返利群')
      .then({ toast: 't', rule_id: 7, high_text: [{ text: '刷单返利', start: 0, end: 4 }] });
  });

  it('never matches an empty keyword', () => {
    const rule: KeywordRule = { rule_id: 8, keywords: [''], toast: 't' };
    given(rule).when('anything').then({});
  });

  it(`highlights at most ${MAX_HIGH_TEXT} occurrences`, () => {
    const hit = matchKeywordRules('支付宝'.repeat(MAX_HIGH_TEXT + 5), RULES);
    expect('high_text' in hit && hit.high_text).toHaveLength(MAX_HIGH_TEXT);
  });
});
