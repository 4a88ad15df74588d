// How SkillApproval names are compared: who may decide matches names as written; counting and the
// owner check read an email behind an identity provider's prefix, where merging can only refuse more.
import { isSkillOwner, personOf, samePerson, sameUser, textTail, userName } from '../src/skillapproval.js';

test('a name as approver lists compare it: trimmed and lower-cased, never read past a prefix', () => {
  expect(userName(' Bob@Example.com ')).toBe('bob@example.com');
  expect(sameUser('bob@example.com', ' BOB@example.com')).toBe(true);
  for (const other of ['mallory:bob@example.com', 'https://evil.example#bob@example.com', 'system:serviceaccount:ns:x:bob@example.com', 'oidc:bob@example.com']) {
    expect([other, sameUser(other, 'bob@example.com')]).toEqual([other, false]);
  }
  expect(sameUser('', ' ')).toBe(false);
});

test('for counting, an email behind any prefix reads as that email; nothing else is unwrapped', () => {
  expect(personOf(' OIDC:Bob@Example.com ')).toBe('bob@example.com');
  expect(samePerson('https://issuer.example#bob@example.com', 'bob@example.com')).toBe(true);
  expect(personOf('system:serviceaccount:team-a:bob')).toBe('system:serviceaccount:team-a:bob');
  // One person toward a quorum however the address is tagged.
  expect(samePerson('oidc:bob+review@example.com', 'bob@example.com')).toBe(true);
  expect(personOf('Bob+x@Example.com.')).toBe('bob@example.com');
  expect(samePerson('', '')).toBe(false);
});

test('the owner check is lenient: the owner behind any prefix is the owner, another name is not', () => {
  // A +tag or a trailing dot is the same owner, as offboarding reads it (normalizeOwner): no self-approval through an alias.
  for (const user of ['erin@example.com', ' Erin@Example.com', 'oidc:erin@example.com', 'https://issuer.example#erin@example.com', 'mallory:erin@example.com', 'erin+ci@example.com', 'oidc:Erin+x@example.com.']) {
    expect([user, isSkillOwner(user, 'erin@example.com')]).toEqual([user, true]);
  }
  // An owner that is no email: a prefix right before it still reads as the owner.
  expect(isSkillOwner('system:serviceaccount:team-a:ci', 'ci')).toBe(true);
  expect(isSkillOwner('oidc:erin@example.com', 'oidc:erin@example.com')).toBe(true);
  expect(isSkillOwner('bob@example.com', 'erin@example.com')).toBe(false);
  expect(isSkillOwner('erin@example.com.evil', 'erin@example.com')).toBe(false);
  expect(isSkillOwner('', '')).toBe(false);
});

test('the tail of a text never starts with half a surrogate pair', () => {
  expect(textTail('short', 10)).toBe('short');
  expect(textTail('abcdef', 3)).toBe('def');
  const emoji = '😀'; // two UTF-16 units
  expect(textTail(`a${emoji}b`, 2)).toBe('b');
  expect(textTail(`a${emoji}b`, 3)).toBe(`${emoji}b`);
  expect(textTail('abc', 0)).toBe('');
});
