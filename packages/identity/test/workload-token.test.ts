import { SignJWT } from 'jose';
import {
  WorkloadTokenIssuer, generateSigningKey, verifyWorkloadToken, readWorkloadToken, effectiveTtl,
  WorkloadTokenError, identityOf, DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS,
} from '../src/index.js';
import type { SkillIdentity } from '@skillgate/api';

const identity: SkillIdentity = { namespace: 'team-a', serviceAccount: 'bot', pod: 'bot-1', podUid: 'uid-1', skill: 'summarize', owner: 'alice@example.com' };
const ISS = 'https://controller.skillgate';

describe('workload tokens', () => {
  test('an issued token verifies and carries the skill identity, owner, jti and policy generation', async () => {
    let now = 1_700_000_000_000;
    const issuer = new WorkloadTokenIssuer(await generateSigningKey(), ISS, () => now);
    const { token, claims, expiresIn } = await issuer.issue(identity, { policyGeneration: 7 });
    expect(expiresIn).toBe(DEFAULT_TOKEN_TTL_SECONDS);
    const verified = await verifyWorkloadToken(token, issuer.jwks().keys[0]!, { issuer: ISS, clock: () => now });
    expect(verified).toEqual(claims);
    expect(verified.sub).toBe('team-a/bot/bot-1');
    expect(verified.policyGeneration).toBe(7);
    expect(identityOf(verified)).toEqual(identity);
    expect(readWorkloadToken(token).jti).toBe(claims.jti);
    now += 1;
  });

  test('a token is refused once its TTL has passed on the injected clock', async () => {
    let now = 1_700_000_000_000;
    const issuer = new WorkloadTokenIssuer(await generateSigningKey(), ISS, () => now);
    const { token } = await issuer.issue(identity, { ttlSeconds: 60 });
    now += 61_000;
    await expect(verifyWorkloadToken(token, issuer.jwks().keys[0]!, { issuer: ISS, clock: () => now })).rejects.toMatchObject({ reason: 'expired' });
  });

  test('a token signed by another key is refused as invalid', async () => {
    const real = new WorkloadTokenIssuer(await generateSigningKey(), ISS);
    const forger = new WorkloadTokenIssuer(await generateSigningKey(), ISS);
    const { token } = await forger.issue(identity);
    await expect(verifyWorkloadToken(token, real.jwks().keys[0]!, { issuer: ISS })).rejects.toBeInstanceOf(WorkloadTokenError);
  });

  test('a token for another audience or issuer is refused', async () => {
    const key = await generateSigningKey();
    const other = await new SignJWT({ skill: 's', owner: 'o', namespace: 'n', serviceAccount: 'sa', pod: 'p' })
      .setProtectedHeader({ alg: 'ES256' }).setSubject('n/sa/p').setJti('j').setIssuer(ISS).setAudience('someone-else')
      .setIssuedAt().setExpirationTime('5m').sign(key.privateKey);
    await expect(verifyWorkloadToken(other, key.publicJwk, { issuer: ISS })).rejects.toMatchObject({ reason: 'audience' });
    const { token } = await new WorkloadTokenIssuer(key, 'https://elsewhere').issue(identity);
    await expect(verifyWorkloadToken(token, key.publicJwk, { issuer: ISS })).rejects.toMatchObject({ reason: 'issuer' });
  });

  test('TTLs default to ten minutes and never exceed an hour', () => {
    expect(effectiveTtl(undefined)).toBe(600);
    expect(effectiveTtl(30)).toBe(30);
    expect(effectiveTtl(10 * 3600)).toBe(MAX_TOKEN_TTL_SECONDS);
    expect(effectiveTtl(undefined, 120)).toBe(120);
    expect(() => effectiveTtl(0)).toThrow(RangeError);
  });
});
