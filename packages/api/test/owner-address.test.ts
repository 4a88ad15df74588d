// Owner addresses: which spellings name an owner at all (isOwnerEmail, ownerAddressProblem), and the
// one canonical form every spelling of an owner is compared, stored, locked and offboarded by
// (normalizeOwner). An alias that canonicalised to something else would escape its owner's offboarding.
import fc from 'fast-check';
import { isOwnerEmail, normalizeOwner, ownerAddressProblem } from '../src/index.js';

describe('an owner is named by a plain email address', () => {
  test.each([
    'jane@example.com',
    'JANE@Example.COM',
    ' jane@example.com ',
    'jane.doe@example.com',
    'jane-doe@mail.example.co.uk',
    'j4ne_2@example-corp.com',
    'jane+triage@example.com',
    "o'brien@example.com",
    'jane@localhost',
  ])('%j is accepted', (value) => {
    expect(ownerAddressProblem(value)).toBeUndefined();
    expect(isOwnerEmail(value)).toBe(true);
  });

  test.each([
    ['oidc:jane@example.com', /has a prefix, "oidc:": use the plain email address jane@example\.com/],
    ['https://issuer.example#jane@example.com', /has a prefix/],
    ['jane@example.com:443', /has a prefix/],
    ['mailto:jane@example.com', /has a prefix, "mailto:"/],
    ['jane@example.com.', /domain ends in a dot: write jane@example\.com/],
    ['jane@EXAMPLE.com..', /domain ends in a dot/],
    ['jane doe@example.com', /whitespace/],
    ['jane@exa\tmple.com', /whitespace/],
    ['jane@@example.com', /more than one @/],
    ['jane@example.com@evil.example', /more than one @/],
    ['jane', /no @/],
    ['@example.com', /nothing before the @/],
    ['jane@', /nothing after the @/],
    ['', /empty/],
    ['   ', /empty/],
    ['+triage@example.com', /nothing before the \+tag/],
    ['"jane"@example.com', /local part .* not plain/],
    ['jane(comment)@example.com', /local part .* not plain/],
    ['jane.@example.com', /local part .* not plain/],
    ['.jane@example.com', /local part .* not plain/],
    ['ja..ne@example.com', /local part .* not plain/],
    ['jane,bob@example.com', /local part .* not plain/],
    [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`, /is 260 characters long, more than an email address can be \(254\)/],
    ['jane@[192.0.2.1]', /domain is not a host name/],
    ['jane@example..com', /domain is not a host name/],
    ['jane@.example.com', /domain is not a host name/],
    ['jane@exam_ple.com', /domain is not a host name/],
    ['j\u0430ne@example.com', /outside printable ASCII/], // Cyrillic a
    ['jane\u200b@example.com', /outside printable ASCII/], // zero-width space
    ['jane@example.com\u0000', /outside printable ASCII/],
  ])('%j is refused', (value, why) => {
    expect(ownerAddressProblem(value)).toMatch(why);
    expect(isOwnerEmail(value)).toBe(false);
  });
});

describe('every spelling of an owner has one canonical form', () => {
  test.each([
    ['jane@example.com', 'jane@example.com'],
    ['JANE@Example.COM', 'jane@example.com'],
    ['  jane@example.com\n', 'jane@example.com'],
    ['jane+triage@example.com', 'jane@example.com'],
    ['Jane+Triage+2@EXAMPLE.com', 'jane@example.com'],
    ['jane@example.com.', 'jane@example.com'],
    ['jane+x@EXAMPLE.com..', 'jane@example.com'],
    ['jane.doe@sub.example.com', 'jane.doe@sub.example.com'],
    // Not an owner's plain address (refused where owners are named), still a total function.
    ['+triage@example.com', '+triage@example.com'],
    ['team-a', 'team-a'],
  ])('%j is %j', (spelling, canonical) => {
    expect(normalizeOwner(spelling)).toBe(canonical);
  });

  const local = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}[a-z0-9]$/).filter((s) => !s.includes('..'));
  const domain = fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/), { minLength: 1, maxLength: 3 }).map((labels) => [...labels, 'com'].join('.'));
  const tag = fc.stringMatching(/^[a-z0-9._-]{0,8}$/);
  const upper = (s: string, mask: number): string => [...s].map((c, i) => ((mask >> (i % 30)) & 1 ? c.toUpperCase() : c)).join('');

  test('a +tag, letter case and a trailing dot never make another owner', () => {
    fc.assert(fc.property(local, domain, tag, fc.integer({ min: 0, max: 2 ** 30 }), fc.boolean(), (l, d, t, mask, dot) => {
      const plain = `${l}@${d}`;
      const alias = upper(`${l}+${t}@${d}${dot ? '.' : ''}`, mask);
      expect(normalizeOwner(alias)).toBe(plain);
      expect(normalizeOwner(plain)).toBe(plain);
    }));
  });

  test('the canonical form of a plain address is itself plain, and canonical', () => {
    fc.assert(fc.property(local, domain, tag, (l, d, t) => {
      const canonical = normalizeOwner(`${l}+${t}@${d}`);
      expect(isOwnerEmail(canonical)).toBe(true);
      expect(normalizeOwner(canonical)).toBe(canonical);
    }));
  });
});
