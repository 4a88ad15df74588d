import { MaskingKey, createMasker } from '../src/index.js';
import { compactForDetection, fingerprintForm, foldForDetection, hasCompactable, isVanishing, readAsDetected, searchForms, tailReading } from '../src/fold.js';
import { MaskerCore } from '../src/masker.js';
import { TextStream } from '../src/stream-text.js';

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
    ['a card in Arabic-Indic digits', 'بطاقة ٤١١١ ١١١١ ١١١١ ١١١١ لطفا', 'بطاقة [CREDIT_CARD] لطفا'],
    ['a phone number in Persian digits', 'تلفن +۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹ است', 'تلفن [PHONE_NUMBER] است'],
    ['an SSN in Devanagari digits', 'SSN १२३-४५-६७८८', 'SSN [US_SSN]'],
  ])('%s is masked', (_name, text, masked) => {
    expect(masker.maskText(text).masked).toBe(masked);
  });

  test.each([
    ['a range of years with an en dash', 'from 1990–2000 we grew'],
    ['Japanese prose with an ideographic space', 'テスト　です'],
    ['full-width words', 'ｈｅｌｌｏ ｗｏｒｌｄ'],
    ['a year in Arabic digits', 'في عام ١٩٩٠ كان'],
    ['a price in Thai digits', 'ราคา ๑๒๓ บาท'],
  ])('%s is left alone', (_name, text) => {
    expect(masker.maskText(text)).toEqual({ masked: text, findings: [] });
  });

  test('a value is fingerprinted as it reads, so searching for the ASCII form finds the full-width one', () => {
    const [finding] = masker.maskText('card ４１１１ １１１１ １１１１ １１１１').findings;
    expect(finding!.fingerprint).toBe(new MaskingKey(key).fingerprint('4111111111111111'));
  });

  test('one value has one fingerprint however it was grouped or cased, and a search looks for every form', () => {
    const fp = (text: string) => masker.maskText(text).findings.map((f) => `${f.type}:${f.fingerprint}`);
    for (const [a, b] of [
      ['card 4111 1111 1111 1111 today', 'card 4111-1111-1111-1111 today'],
      ['card 4111 1111 1111 1111 today', 'card 4111111111111111 today'],
      ['SSN 123-45-6789 on file', 'SSN 123 45 6789 on file'],
      ['IBAN GB82 WEST 1234 5698 7654 32 here', 'IBAN GB82WEST12345698765432 here'],
      ['mail Jane.Doe@Example.com now', 'mail jane.doe@example.com now'],
    ]) expect([a, fp(a)]).toEqual([a, fp(b!)]);
    expect(fingerprintForm('CREDIT_CARD', '4111 1111-1111.1111')).toBe('4111111111111111');
    expect(fingerprintForm('EMAIL_ADDRESS', 'Jane@Example.COM')).toBe('jane@example.com');
    expect(fingerprintForm('PERSON', 'Jane Doe')).toBe('Jane Doe');
    // What a responder types may be any of them, or a value fingerprinted as written before the forms.
    expect(searchForms('４１１１ １１１１ １１１１ １１１１')).toEqual(['4111 1111 1111 1111', '4111111111111111']);
    expect(searchForms('Jane@Example.com')).toEqual(['Jane@Example.com', 'JANE@EXAMPLECOM', 'jane@example.com']);
  });

  test('tokenize mode gives the skill back the value as it wrote it', () => {
    const m = createMasker({ mode: 'tokenize' }, { key });
    const masked = m.maskText('write to maria\uff20example.com').masked;
    expect(masked).toMatch(/^write to <EMAIL_ADDRESS_[0-9a-f]{16}>$/);
    expect(m.restoreText(masked)).toBe('write to maria\uff20example.com');
  });

  test('every decimal digit of the BMP reads as its ASCII digit, and nothing else reads as a digit', () => {
    const wrong: string[] = [];
    const isDigit = (c: number) => /\p{Nd}/u.test(String.fromCharCode(c));
    for (let c = 0x80; c < 0x10000; c++) {
      const folded = foldForDetection(String.fromCharCode(c));
      if (!isDigit(c)) {
        if (/^[0-9]$/.test(folded)) wrong.push(String.fromCharCode(c));
        continue;
      }
      let zero = c; // Unicode keeps each script's digits as a run of ten from zero
      while (isDigit(zero - 1)) zero--;
      if (folded !== String(c - zero)) wrong.push(String.fromCharCode(c));
    }
    expect(wrong).toEqual([]);
    expect(foldForDetection('٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹ ०१२३४५६७८९ ๐๑๒๓๔๕๖๗๘๙')).toBe('0123456789 0123456789 0123456789 0123456789');
  });

  test('folding keeps every offset: one code unit for one', () => {
    const text = 'ａ\u00a0b\u2011c\u3000１\u202f＠';
    expect(foldForDetection(text)).toBe('a b-c 1 @');
    expect(foldForDetection(text).length).toBe(text.length);
    const plain = 'nothing to fold here';
    expect(foldForDetection(plain)).toBe(plain);
  });
});

describe('values written in mathematical letters and digits (bold and italics where there is no formatting)', () => {
  test.each([
    ['an email in bold', 'Contact: \u{1D423}\u{1D41A}\u{1D427}\u{1D41E}@\u{1D41E}\u{1D431}\u{1D41A}\u{1D426}\u{1D429}\u{1D425}\u{1D41E}.\u{1D41C}\u{1D428}\u{1D426} today', 'Contact: [EMAIL_ADDRESS] today'],
    ['a card in bold digits', 'card \u{1D7D2}\u{1D7CF}\u{1D7CF}\u{1D7CF} \u{1D7CF}\u{1D7CF}\u{1D7CF}\u{1D7CF} \u{1D7CF}\u{1D7CF}\u{1D7CF}\u{1D7CF} \u{1D7CF}\u{1D7CF}\u{1D7CF}\u{1D7CF}.', 'card [CREDIT_CARD].'],
    ['an SSN in double-struck digits after a bold keyword', '\u{1D412}\u{1D412}\u{1D40D}: \u{1D7D9}\u{1D7DA}\u{1D7DB}-\u{1D7DC}\u{1D7DD}-\u{1D7DE}\u{1D7DF}\u{1D7E0}\u{1D7E0}', '\u{1D412}\u{1D412}\u{1D40D}: [US_SSN]'],
  ])('%s is masked', (_name, text, masked) => {
    expect(masker.maskText(text).masked).toBe(masked);
  });

  test('is fingerprinted as it reads, and streamed in pieces cut anywhere (halves of a pair included) as in the whole text', () => {
    const text = 'mail \u{1D423}\u{1D41A}\u{1D427}\u{1D41E}@example.com, thanks';
    const { findings } = masker.maskText(text);
    expect(findings[0]!.fingerprint).toBe(new MaskingKey(key).fingerprint('jane@example.com'));
    const core = new MaskerCore(undefined, { key });
    for (let cut = 1; cut < text.length; cut++) {
      const st = new TextStream(core);
      expect(st.push(text.slice(0, cut)) + st.push(text.slice(cut)) + st.end()).toBe('mail [EMAIL_ADDRESS], thanks');
    }
  });

  test('Greek and other mathematical symbols that do not read as ASCII are left as they are', () => {
    const text = 'let \u{1D6FC} = \u{1D6FD} + 1';
    expect(masker.maskText(text)).toEqual({ masked: text, findings: [] });
    expect(readAsDetected(text)).toBe(text);
  });
});

describe('values with characters that vanish inside them (zero-width spaces and joiners, soft hyphens, BOMs)', () => {
  test.each([
    ['an email with a zero-width space before its at sign', 'write to jane.doe\u200b@example.com today', 'write to [EMAIL_ADDRESS] today'],
    ['an email with zero-width spaces all through it', 'j\u200ba\u200bn\u200be@ex\u200bample.com', '[EMAIL_ADDRESS]'],
    ['a card with zero-width spaces between its groups', 'card 4111\u200b1111\u200b1111\u200b1111.', 'card [CREDIT_CARD].'],
    ['a card with a soft hyphen inside a group', 'card 4111 11\u00ad11 1111 1111.', 'card [CREDIT_CARD].'],
    ['an SSN with a word joiner', 'SSN 123-45-\u20606788', 'SSN [US_SSN]'],
    ['an API key with a BOM inside', `key sk-ant-api03-\ufeff${'Ab3_'.repeat(23)}xAA`, 'key [SECRET]'],
    ['a full-width email with a zero-width joiner', 'ｍａｒｉａ\u200d＠ｅｘａｍｐｌｅ．ｃｏｍ です', '[EMAIL_ADDRESS] です'],
    ['a phone number in Hebrew prose, left-to-right marks around and inside it', 'התקשר \u200e+1\u200e (415)\u200e 555-0132\u200e עכשיו', 'התקשר \u200e[PHONE_NUMBER]\u200e עכשיו'],
    ['a card inside a left-to-right isolate, marks between its groups', 'כרטיס \u20664111\u200e 1111\u200e 1111\u200e 1111\u2069.', 'כרטיס \u2066[CREDIT_CARD]\u2069.'],
  ])('%s is masked, the vanishing characters inside it with it', (_name, text, masked) => {
    expect(masker.maskText(text).masked).toBe(masked);
  });

  test('a finding spans the value as written, and is fingerprinted as it reads', () => {
    const text = 'mail jane.doe\u200b@example.com\u200b now';
    const { findings } = masker.maskText(text);
    expect(findings).toHaveLength(1);
    expect(text.slice(findings[0]!.start, findings[0]!.end)).toBe('jane.doe\u200b@example.com');
    expect(findings[0]!.fingerprint).toBe(new MaskingKey(key).fingerprint('jane.doe@example.com'));
  });

  test('streamed in pieces cut anywhere, a value is masked as in the whole text', () => {
    const text = 'card 4111\u200b1111\u200b1111\u200b1111 and jane\u00ad.doe@example.com, thanks';
    const core = new MaskerCore(undefined, { key });
    for (let cut = 1; cut < text.length; cut++) {
      const s = new TextStream(core);
      const out = s.push(text.slice(0, cut)) + s.push(text.slice(cut)) + s.end();
      expect(out).toBe('card [CREDIT_CARD] and [EMAIL_ADDRESS], thanks');
    }
  });

  test('tokenize mode gives the skill back the value as it wrote it', () => {
    const m = createMasker({ mode: 'tokenize' }, { key });
    const masked = m.maskText('write to jane.doe\u200b@example.com').masked;
    expect(masked).toMatch(/^write to <EMAIL_ADDRESS_[0-9a-f]{16}>$/);
    expect(m.restoreText(masked)).toBe('write to jane.doe\u200b@example.com');
  });

  test('prose that carries them is left alone', () => {
    for (const text of ['soft\u00adware is eating the world', 'emoji 👩\u200d💻 at work', '\ufeffHello there']) {
      expect(masker.maskText(text)).toEqual({ masked: text, findings: [] });
    }
  });

  test('the set of characters read as nothing is the one the regular expression and the code-unit test share', () => {
    const disagree: number[] = [];
    // The characters the class holds besides: the first halves of a mathematical letter and of the
    // vanishing characters beyond the BMP (compacted with the second).
    const firstHalves = new Set([0xd835, 0xd82f, 0xd834, 0xdb40, 0xdb41, 0xdb42, 0xdb43]);
    for (let c = 0; c < 0x10000; c++) if (hasCompactable(String.fromCharCode(c)) !== (isVanishing(c) || firstHalves.has(c))) disagree.push(c);
    expect(disagree).toEqual([]);
    expect(isVanishing(0x200b) && isVanishing(0x200f) && isVanishing(0x202e) && isVanishing(0x2069) && isVanishing(0xfeff)).toBe(true);
    // Default_Ignorable_Code_Point (2060..206F is all of it, the unassigned U+2065 included).
    for (const c of [0x034f, 0x061c, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180b, 0x180f, 0x2065, 0x206f, 0x3164, 0xfe00, 0xfe0f, 0xffa0, 0xfff0, 0xfff9, 0xfffb]) expect([c, isVanishing(c)]).toEqual([c, true]);
    for (const c of [0x20, 0x41, 0x034e, 0x180a, 0x2070, 0xfe10, 0xfffc, 0xfffd]) expect([c, isVanishing(c)]).toEqual([c, false]);
  });

  test('compactForDetection maps each character read to where it starts and ends in the original', () => {
    const { text, starts, ends } = compactForDetection('a\u200bb\u00ad\u00adc\u2060\u{1D7CF}x');
    expect(text).toBe('abc1x');
    expect([...starts]).toEqual([0, 2, 5, 7, 9, 10]);
    expect([...ends]).toEqual([1, 3, 6, 9, 10]);
    expect(tailReading('ab\u{1D41A}\u{1D41B}', 2)).toBe('\u{1D41A}\u{1D41B}');
    expect(readAsDetected('ｊ\u200bａ\u00a0b')).toBe('ja b');
    expect(tailReading('xyz\u200b\u200bq', 2)).toBe('z\u200b\u200bq');
    expect(tailReading('ab', 5)).toBe('ab');
  });
});

describe('invisible characters of the Default_Ignorable set inside a value', () => {
  test.each([
    ['combining grapheme joiner', '\u034f'], ['variation selector 16', '\ufe0f'], ['variation selector 1', '\ufe00'],
    ['tag space', '\u{E0020}'], ['variation selector 17', '\u{E0100}'], ['Mongolian free variation selector', '\u180b'],
    ['Khmer inherent vowel', '\u17b4'], ['Hangul filler', '\u3164'], ['half-width Hangul filler', '\uffa0'],
    ['Hangul choseong filler', '\u115f'], ['interlinear annotation anchor', '\ufff9'], ['shorthand format letter overlap', '\u{1BCA0}'],
    ['musical symbol begin beam', '\u{1D173}'], ['Arabic letter mark', '\u061c'],
  ])('a card with a %s between its groups is masked, the character with it', (_name, ch) => {
    const text = `card 4111${ch}1111${ch}1111${ch}1111 ok`;
    expect(masker.maskText(text).masked).toBe('card [CREDIT_CARD] ok');
  });

  test('a vanishing character beyond the BMP is read as nothing in a stream cut anywhere, its halves split included', () => {
    const text = 'card 4111\u{E0020}1111\u{E0020}1111\u{E0020}1111 and jane\u{1D173}.doe@example.com, thanks';
    const core = new MaskerCore(undefined, { key });
    for (let cut = 1; cut < text.length; cut++) {
      const s = new TextStream(core);
      const out = s.push(text.slice(0, cut)) + s.push(text.slice(cut)) + s.end();
      expect(out).toBe('card [CREDIT_CARD] and [EMAIL_ADDRESS], thanks');
    }
    expect(tailReading('ab\u{E0020}\u{E0020}c', 2)).toBe('b\u{E0020}\u{E0020}c');
  });
});

describe('backslash escapes of JSON carried as text', () => {
  const toolOutput = JSON.stringify({
    customer: 'Jane', notes: 'Card on file:\n4111111111111111\nSSN:\n536-22-8974',
    env: `ANTHROPIC_API_KEY\nsk-ant-api03-${'Zx9'.repeat(15)}AA`,
  });
  const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
  const cases: Array<[string, string, string]> = [
    ['a card after \\n', String.raw`{"notes":"Card on file:\n4111111111111111"}`, String.raw`{"notes":"Card on file:\n[CREDIT_CARD]"}`],
    ['a card after \\t', String.raw`"x\t4111111111111111"`, String.raw`"x\t[CREDIT_CARD]"`],
    ['a card after \\r', String.raw`"x\r4111111111111111"`, String.raw`"x\r[CREDIT_CARD]"`],
    ['a card after \\"', String.raw`"\"4111111111111111\""`, String.raw`"\"[CREDIT_CARD]\""`],
    ['a card after \\/', String.raw`"a\/4111111111111111"`, String.raw`"a\/[CREDIT_CARD]"`],
    ['a card after \\\\', String.raw`"C:\\4111111111111111"`, String.raw`"C:\\[CREDIT_CARD]"`],
    ['a card between \\b and \\f', String.raw`"\b4111111111111111\f"`, String.raw`"\b[CREDIT_CARD]\f"`],
    ['a card after \\u00a0', String.raw`"card\u00a04111111111111111"`, String.raw`"card\u00a0[CREDIT_CARD]"`],
    ['a card grouped with \\u00a0 escapes', String.raw`"card 4111\u00a01111\u00a01111\u00a01111"`, String.raw`"card [CREDIT_CARD]"`],
    ['a card after \\u200b', String.raw`"card\u200b4111111111111111"`, String.raw`"card\u200b[CREDIT_CARD]"`],
    ['a dashed SSN after \\n', String.raw`"SSN:\n536-22-8974"`, String.raw`"SSN:\n[US_SSN]"`],
    ['a phone number after \\n', String.raw`"phone:\n+1 415 555 2671"`, String.raw`"phone:\n[PHONE_NUMBER]"`],
    ['an IBAN after \\n', String.raw`"iban:\nDE89370400440532013000"`, String.raw`"iban:\n[IBAN_CODE]"`],
    ['a spaced IBAN after \\n', String.raw`"iban:\nDE89 3704 0044 0532 0130 00"`, String.raw`"iban:\n[IBAN_CODE]"`],
    ['an AWS key after \\n', String.raw`"AWS\nAKIAIOSFODNN7EXAMPLE"`, String.raw`"AWS\n[SECRET]"`],
    ['a JWT after \\n', `"auth\\n${jwt}"`, String.raw`"auth\n[SECRET]"`],
    ['a name after name:\\n', String.raw`{"note":"name:\nJohn Smith"}`, String.raw`{"note":"name:\n[PERSON]"}`],
    ['a name written with \\u escapes', String.raw`"Jos\u00e9 Garc\u00eda wrote"`, String.raw`"[PERSON] wrote"`],
    ['an email with an escaped at sign', String.raw`"mail jane.doe\u0040example.com"`, String.raw`"mail [EMAIL_ADDRESS]"`],
  ];
  test.each(cases)('%s is found and only the value is replaced', (_name, text, masked) => {
    expect(masker.maskText(text).masked).toBe(masked);
  });

  test('a tool result holding JSON.stringify of a record: card, SSN and key masked, the escapes kept', () => {
    const masked = masker.maskText(toolOutput).masked;
    expect(masked).not.toMatch(/4111111111111111|536-22-8974|sk-ant-api03/);
    expect(masked).toContain(String.raw`Card on file:\n[CREDIT_CARD]\nSSN:\n[US_SSN]`);
    expect(masked).toContain(String.raw`ANTHROPIC_API_KEY\n[SECRET]`);
  });

  test('an escaped backslash before an escape letter is read as a separator too (more, never less)', () => {
    expect(masker.maskText(String.raw`"a\\n4111111111111111"`).masked).toBe(String.raw`"a\\n[CREDIT_CARD]"`);
  });

  test('folding keeps the length and reads escapes locally; \\u of a letter is compacted into it', () => {
    expect(foldForDetection(String.raw`a\nb\t\\x\u00a0y\u00e9`)).toBe(String.raw`a  b   \x      y\u00e9`);
    expect(readAsDetected(String.raw`Jos\u00e9`)).toBe('José');
    const { text, starts, ends } = compactForDetection(String.raw`a\u00e9\u200bb`);
    expect(text).toBe('aéb');
    expect([...starts]).toEqual([0, 1, 13, 14]);
    expect([...ends]).toEqual([1, 7, 14]);
  });

  test('paths, line breaks, regexes and version members with escapes stay as they are', () => {
    for (const text of [String.raw`"C:\\Users\\bob\\notes.txt"`, String.raw`line one\nline two`, String.raw`regex \d{3}-\d{2}`, String.raw`{\"version\": \"1.2.3.4\"}`]) {
      expect(masker.maskText(text)).toEqual({ masked: text, findings: [] });
    }
  });

  test('streamed in two pieces cut anywhere (inside an escape too) or a character at a time, text with escapes is masked as the whole text', () => {
    const core = new MaskerCore(undefined, { key });
    const texts = [toolOutput, ...cases.map(([, text]) => text), String.raw`"x\\\\n4111111111111111 \\u00a0 Jos\u00e9 Garc\u00eda \u004111 f5Rx%9qLm2Tz#Wb7\n"`];
    for (const text of texts) {
      const whole = core.maskText(text).masked;
      for (let cut = 1; cut < text.length; cut++) {
        const s = new TextStream(core);
        expect([text, cut, s.push(text.slice(0, cut)) + s.push(text.slice(cut)) + s.end()]).toEqual([text, cut, whole]);
      }
      const s = new TextStream(core);
      let out = '';
      for (const ch of text) out += s.push(ch);
      expect([text, out + s.end()]).toEqual([text, whole]);
    }
  });
});
