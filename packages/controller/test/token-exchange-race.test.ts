// The token exchange checks the owner and the locks, signs, records the token's jti (so a
// revocation can find it) and checks again: a revocation that read the index while the token was
// being made did not see it, so that token must not leave the exchange. A record key sent along is
// endorsed for the same pod, after the same checks, and never for a refused one.
import { generateKeyPairSync } from 'node:crypto';
import { LockSet, RecordKeyEndorser, RecordKeyTrust, WorkloadTokenIssuer, generateSigningKey, recordKeyThumbprintOfPem, type SigningKey } from '@skillgate/identity';
import { OAuthError, TokenExchange, type TokenExchangeDeps } from '../src/index.js';

const pod = { metadata: { name: 'p', uid: 'u1', labels: { 'skillgate.dev/skill': 's' }, annotations: { 'skillgate.dev/owner': 'alice@example.com', 'skillgate.dev/injected': '0.2.2' } }, spec: { initContainers: [{ name: 'skillgate-sidecar' }], containers: [] } };

/** An exchange whose index write runs `whileRecording` (where a revocation could land). */
async function exchangeWhere(whileRecording: (owner: { active: boolean }) => void, key?: SigningKey, extra: Partial<TokenExchangeDeps> = {}): Promise<TokenExchange> {
  const owner = { active: true };
  const signing = key ?? await generateSigningKey();
  return new TokenExchange({
    reviewer: { review: async () => ({ namespace: 'ns', serviceAccount: 'default', podName: 'p', podUid: 'u1' }) },
    pods: { pod: async () => pod, namespace: async () => ({ metadata: { name: 'ns', labels: { 'skillgate.dev/inject': 'enabled' } } }) },
    issuer: new WorkloadTokenIssuer(signing, 'https://skillgate-controller'),
    endorser: new RecordKeyEndorser(signing, 'https://skillgate-controller'),
    issued: { record: async () => whileRecording(owner) },
    ownerActive: () => owner.active,
    locks: () => new LockSet(),
    credentials: { credentialFor: async () => undefined },
    ...extra,
  } as unknown as TokenExchangeDeps);
}

const request = { subjectToken: 't', audience: 'skillgate' };

test('an owner offboarded while their token was being made gets no token', async () => {
  const exchange = await exchangeWhere((owner) => { owner.active = false; });
  const refused = exchange.exchange(request);
  await expect(refused).rejects.toThrow(OAuthError);
  await expect(refused).rejects.toThrow(/offboarded/);
});

test('an owner still active gets the token', async () => {
  const exchange = await exchangeWhere(() => undefined);
  expect((await exchange.exchange(request)).response.access_token).toMatch(/^ey/);
});

test('a record key sent with the exchange comes back endorsed for the pod, and a refused exchange endorses nothing', async () => {
  const signing = await generateSigningKey();
  const recordKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const withKey = { ...request, recordKeyThumbprint: recordKeyThumbprintOfPem(recordKey) };
  const { response } = await (await exchangeWhere(() => undefined, signing)).exchange(withKey);
  const trust = new RecordKeyTrust(new WorkloadTokenIssuer(signing, 'https://skillgate-controller').jwks());
  expect(await trust.verify(response.record_key_endorsement!, recordKey)).toMatchObject({ sub: 'ns/default/p', pod: 'p', skill: 's', owner: 'alice@example.com' });
  expect((await (await exchangeWhere(() => undefined, signing)).exchange(request)).response.record_key_endorsement).toBeUndefined();
  await expect((await exchangeWhere((owner) => { owner.active = false; }, signing)).exchange(withKey)).rejects.toThrow(/offboarded/);
});

test('the sidecars\' Redis URL and the masking key go with a granted token only', async () => {
  const handed = { sidecarRedisUrl: 'redis://sidecars:pa55@redis:6379', maskingKey: 'k7Qe0fVw2m9XyZpL3aBcDeFgHiJkLmNoPqRsTuVwXyZ' };
  const { response } = await (await exchangeWhere(() => undefined, undefined, handed)).exchange(request);
  expect([response.redis_url, response.masking_key]).toEqual([handed.sidecarRedisUrl, handed.maskingKey]);
  expect((await (await exchangeWhere(() => undefined)).exchange(request)).response).not.toHaveProperty('redis_url');
  const refused = await (await exchangeWhere((owner) => { owner.active = false; }, undefined, handed)).exchange(request).catch((err: Error) => err);
  expect(refused).toBeInstanceOf(OAuthError);
  expect(JSON.stringify(refused)).not.toContain('pa55');
});
