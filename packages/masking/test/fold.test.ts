import { MaskingKey, createMasker } from '../src/index.js';
import { foldForDetection } from '../src/fold.js';

const key = 'fold-test-key-0123456789';
const masker = createMasker(undefined, { key });

describe('values written with full-width forms, no-break spaces and Unicode hyphens', () => {
  test.each([
    ['a card typed full-width', 'card ４１１１ １１１１ １１１１ １１１１ please', 'card [CREDIT_CARD] please'],
    ['a card grouped with no-break spaces', 'card 4111\u00a01111\u00a01111\u00a01111.', 'card [CREDIT_CARD].'],
    ['a card grouped with narrow no-break spaces', 'card 4111\u202f1111\u202f1111\u202f1111.', 'card [CREDIT_CARD].'],
    ['an email with a full-width at sign', 'write to maria\uff20example.com', 'write to [EMAIL_ADDRESS]'],
    ['an email typed full-width', 'ｍａｒｉａ＠ｅｘａｍｐｌｅ．ｃｏｍ です', '[EMAIL_ADDRESS] です'],
    ['an SSN with non-breaking hyphens', 'SSN 123\u201145\u20116788', 'SSN [US_SSN]'],
    ['an SSN typed full-width', 'SSN １２３－４５－６７８８', 'SSN [US_SSN]'],
    ['a phone number with no-break spaces', 'call +1\u00a0(415)\u00a0555\u20110132 now', 'call [PHONE_NUMBER] now'],
  ])('%s is masked', (_name, text, masked) => {
    expect(masker.maskText(text).masked).toBe(masked);
  });

  test.each([
    ['a range of years with an en dash', 'from 1990–2000 we grew'],
    ['Japanese prose with an ideographic space', 'テスト　です'],
    ['full-width words', 'ｈｅｌｌｏ ｗｏｒｌｄ'],
  ])('%s is left alone', (_name, text) => {
    expect(masker.maskText(text)).toEqual({ masked: text, findings: [] });
  });

  test('a value is fingerprinted as it reads, so searching for the ASCII form finds the full-width one', () => {
    const [finding] = masker.maskText('card ４１１１ １１１１ １１１１ １１１１').findings;
    expect(finding!.fingerprint).toBe(new MaskingKey(key).fingerprint('4111 1111 1111 1111'));
  });

  test('tokenize mode gives the skill back the value as it wrote it', () => {
    const m = createMasker({ mode: 'tokenize' }, { key });
    const masked = m.maskText('write to maria\uff20example.com').masked;
    expect(masked).toMatch(/^write to <EMAIL_ADDRESS_[0-9a-f]{8}>$/);
    expect(m.restoreText(masked)).toBe('write to maria\uff20example.com');
  });

  test('folding keeps every offset: one code unit for one', () => {
    const text = 'ａ\u00a0b\u2011c\u3000１\u202f＠';
    expect(foldForDetection(text)).toBe('a b-c 1 @');
    expect(foldForDetection(text).length).toBe(text.length);
    const plain = 'nothing to fold here';
    expect(foldForDetection(plain)).toBe(plain);
  });
});
