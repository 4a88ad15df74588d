// The token exchange checks the owner and the locks, signs, records the token's jti (so a
// revocation can find it) and checks again: a revocation that read the index while the token was
// being made did not see it, so that token must not leave the exchange.
import { LockSet, WorkloadTokenIssuer, generateSigningKey } from '@skillgate/identity';
import { OAuthError, TokenExchange, type TokenExchangeDeps } from '../src/index.js';

const pod = { metadata: { name: 'p', uid: 'u1', labels: { 'skillgate.dev/skill': 's' }, annotations: { 'skillgate.dev/owner': 'alice@example.com' } }, spec: { containers: [] } };

/** An exchange whose index write runs `whileRecording` (where a revocation could land). */
async function exchangeWhere(whileRecording: (owner: { active: boolean }) => void): Promise<TokenExchange> {
  const owner = { active: true };
  return new TokenExchange({
    reviewer: { review: async () => ({ namespace: 'ns', serviceAccount: 'default', podName: 'p', podUid: 'u1' }) },
    pods: { pod: async () => pod },
    issuer: new WorkloadTokenIssuer(await generateSigningKey(), 'https://skillgate-controller'),
    issued: { record: async () => whileRecording(owner) },
    ownerActive: () => owner.active,
    locks: () => new LockSet(),
    credentials: { credentialFor: async () => undefined },
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
