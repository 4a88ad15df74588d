// The JWKS ConfigMap's content: every signing key once, in the order they were first published,
// never dropped but past a bound; anything unreadable in it counts as no keys. (Writing it to the API
// server, conflicts included, is proven in e2e/controller.)
import { MAX_PUBLISHED_KEYS, parsePublished, withKey } from '../src/jwks-configmap.js';

const key = (kid: string) => ({ kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, kid, alg: 'ES256', use: 'sig' });
const at = new Date('2026-11-26T16:00:00Z');

test('a key is added once, after those already there, with when it was first published', () => {
  const one = withKey([], key('a'), at)!;
  expect(one).toEqual([{ ...key('a'), skillgate_published_at: '2026-11-26T16:00:00.000Z' }]);
  expect(withKey(one, key('a'), new Date())).toBeUndefined();
  const two = withKey(one, key('b'), at)!;
  expect(two.map((k) => k.kid)).toEqual(['a', 'b']);
});

test('past the bound, the oldest key goes first', () => {
  let keys = withKey([], key('k0'), at)!;
  for (let i = 1; i <= MAX_PUBLISHED_KEYS; i++) keys = withKey(keys, key(`k${i}`), at)!;
  expect(keys).toHaveLength(MAX_PUBLISHED_KEYS);
  expect(keys[0]!.kid).toBe('k1');
});

test('what cannot be read counts as no keys; entries without a kid are dropped', () => {
  expect(parsePublished(undefined)).toEqual([]);
  expect(parsePublished('not json')).toEqual([]);
  expect(parsePublished('{"keys": "nope"}')).toEqual([]);
  expect(parsePublished(JSON.stringify({ keys: [key('a'), { kty: 'EC' }, null] }))).toEqual([key('a')]);
});
