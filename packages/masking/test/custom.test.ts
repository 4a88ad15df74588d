import { createMasker, validateCustomEntity } from '../src/index.js';

const key = 'custom-test-key-0123456789';

describe('custom entities from a policy', () => {
  test('a regex entity keeps the name the policy gives it', () => {
    const m = createMasker({ custom: [{ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}' }] }, { key });
    expect(m.maskText('ticket for EMP-123456, not EMP-12').masked).toBe('ticket for [EMPLOYEE_ID], not EMP-12');
  });

  test('keywords match case-insensitively on word boundaries, multi-word ones included', () => {
    const m = createMasker({ custom: [{ name: 'CODENAME', keywords: ['Falcon', 'project blue sky'], action: 'hash' }] }, { key });
    const out = m.maskText('FALCON ships; falconry is fine; see Project Blue Sky.').masked;
    expect(out).toMatch(/^\[CODENAME:[0-9a-f]{8}\] ships; falconry is fine; see \[CODENAME:[0-9a-f]{8}\]\.$/);
  });

  test('a pattern whose match would cross a space is applied within each token', () => {
    const m = createMasker({ custom: [{ name: 'CODE', pattern: '[a-z0-9]+-[0-9]+' }] }, { key });
    expect(m.maskText('ids abc-1 and x-22').masked).toBe('ids [CODE] and [CODE]');
  });

  test.each([
    [{ name: 'X_ID', pattern: '(a+)+b' }, /nested quantifiers/],
    [{ name: 'X_ID', pattern: '(\\d{1,3})*' }, /nested quantifiers/],
    [{ name: 'X_ID', pattern: '(a)\\1' }, /backreferences/],
    [{ name: 'X_ID', pattern: 'foo(?=bar)' }, /lookahead/],
    [{ name: 'X_ID', pattern: '(?<!x)foo' }, /lookahead and lookbehind/],
    [{ name: 'X_ID', pattern: '^EMP' }, /anchors/],
    [{ name: 'X_ID', pattern: 'a*' }, /empty string/],
    [{ name: 'X_ID', pattern: '[unclosed' }, /not a valid RE2 pattern/],
    [{ name: 'lower', pattern: 'x' }, /UPPER_SNAKE_CASE/],
    [{ name: 'X_ID' }, /pattern or a non-empty keywords/],
    [{ name: 'CASE_ID', pattern: 'CASE [0-9]{6}' }, /only a separator can fill \(" "\).*within one run/],
    [{ name: 'MRN', pattern: 'MRN:\\s?[0-9]{7}' }, /only a separator can fill \(" " or/],
    [{ name: 'PATIENT', pattern: 'PT\\([0-9]{5}\\)' }, /only a separator can fill \("\("\)/],
    [{ name: 'LIST_ID', pattern: 'A[,;]B' }, /only a separator can fill \("," or ";"\)/],
  ])('validateCustomEntity refuses %j with a message saying why', (entity, why) => {
    const problems = validateCustomEntity(entity as never);
    expect(problems.map((p) => p.message).join(' ')).toMatch(why);
  });

  test('a pattern RE2 cannot run is refused in the words of custom masking entities, not of approval patterns', () => {
    const [problem] = validateCustomEntity({ name: 'CAFE_ID', pattern: 'CAF\\u00c9-[0-9]+' });
    expect(problem).toEqual({ field: 'pattern', syntax: true, message: expect.stringMatching(/^not a valid RE2 pattern: invalid escape sequence: `\\u` \(custom masking entity patterns are RE2 syntax .*\\x\{e9\} for a code point/) });
    expect(problem!.message).not.toMatch(/approval/);
    // The masker's own rules are not RE2's: no `syntax` mark.
    expect(validateCustomEntity({ name: 'X_ID', pattern: '^EMP' })).toEqual([{ field: 'pattern', message: expect.stringMatching(/^anchors/) }]);
  });

  test('a pattern admitted finds what it describes: none needs a separator, which no match may hold', () => {
    const text = 'See CASE-123456, MRN:1234567 and PT-12345 today';
    for (const pattern of ['CASE-[0-9]{6}', 'MRN:[0-9]{7}', 'PT-[0-9]{5}', '[A-Z]+[-:][0-9]{5,7}']) {
      expect(validateCustomEntity({ name: 'CASE_ID', pattern })).toEqual([]);
      expect(createMasker({ custom: [{ name: 'CASE_ID', pattern }] }, { key }).maskText(text).findings.length).toBeGreaterThan(0);
    }
  });

  test('validateCustomEntity accepts plain patterns and keyword lists', () => {
    expect(validateCustomEntity({ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}(?:-[A-Z])?' })).toEqual([]);
    // Classes that merely include separators match within a run, as the engine's other rules say.
    expect(validateCustomEntity({ name: 'TICKET', pattern: 'T[^x]{4}' })).toEqual([]);
    expect(validateCustomEntity({ name: 'TICKET', pattern: 'T\\S+' })).toEqual([]);
    expect(validateCustomEntity({ name: 'CODENAME', keywords: ['falcon', 'blue sky'], action: 'tokenize' })).toEqual([]);
  });

  test('createMasker refuses an invalid custom entity instead of running it', () => {
    expect(() => createMasker({ custom: [{ name: 'BAD', pattern: '(a+)+' }] }, { key })).toThrow(/custom entity BAD: pattern: nested quantifiers/);
  });
});
