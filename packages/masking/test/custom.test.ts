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
  ])('validateCustomEntity refuses %j with a message saying why', (entity, why) => {
    const problems = validateCustomEntity(entity as never);
    expect(problems.map((p) => p.message).join(' ')).toMatch(why);
  });

  test('validateCustomEntity accepts plain patterns and keyword lists', () => {
    expect(validateCustomEntity({ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}(?:-[A-Z])?' })).toEqual([]);
    expect(validateCustomEntity({ name: 'CODENAME', keywords: ['falcon', 'blue sky'], action: 'tokenize' })).toEqual([]);
  });

  test('createMasker refuses an invalid custom entity instead of running it', () => {
    expect(() => createMasker({ custom: [{ name: 'BAD', pattern: '(a+)+' }] }, { key })).toThrow(/custom entity BAD: pattern: nested quantifiers/);
  });
});
