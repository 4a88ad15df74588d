// Record-key endorsements: the controller binds a sidecar's record key to the pod it authenticated;
// a verifier holding only the controller's JWKS accepts exactly that key, and nothing that merely
// looks like an endorsement (another key, another controller, a workload token, an altered claim).
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SkillIdentity } from '@skillgate/api';
import {
  RecordKeyEndorser, RecordKeyError, RecordKeyTrust, WorkloadTokenIssuer, generateSigningKey,
  recordKeyThumbprint, recordKeyThumbprintOfPem, verifyWorkloadToken,
} from '../src/index.js';

const identity: SkillIdentity = { namespace: 'team-a', serviceAccount: 'bot', pod: 'bot-1', podUid: 'uid-1', skill: 'summarize', owner: 'alice@example.com' };
const ISS = 'https://controller.skillgate';

function recordKey() {
  const { publicKey } = generateKeyPairSync('ed25519');
  return {
    spki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64url'),
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

describe('record-key endorsements', () => {
  test('an endorsement verifies against the controller JWKS for exactly the key it names, and says whose it is', async () => {
    const signing = await generateSigningKey();
    const issuer = new WorkloadTokenIssuer(signing, ISS);
    const endorser = new RecordKeyEndorser(signing, ISS, () => 1_800_000_000_000);
    const key = recordKey();
    const thumbprint = recordKeyThumbprint(key.spki);
    expect(thumbprint).toBe(recordKeyThumbprintOfPem(key.pem));
    const jwt = await endorser.endorse(identity, thumbprint);

    const trust = new RecordKeyTrust(issuer.jwks());
    await expect(trust.verify(jwt, key.pem)).resolves.toEqual({
      iss: ISS, sub: 'team-a/bot/bot-1', iat: 1_800_000_000, rk: thumbprint,
      namespace: 'team-a', pod: 'bot-1', skill: 'summarize', owner: 'alice@example.com',
    });
    // Another key presented with this endorsement (the forger's own key) is refused.
    await expect(trust.verify(jwt, recordKey().pem)).rejects.toThrow('its endorsement is for another key');
    // The same endorsement against another controller's JWKS is refused.
    const other = new RecordKeyTrust(new WorkloadTokenIssuer(await generateSigningKey(), ISS).jwks());
    await expect(other.verify(jwt, key.pem)).rejects.toThrow(/does not verify against the trusted JWKS/);
    // An issuer pinned by the verifier must match.
    await expect(new RecordKeyTrust(issuer.jwks(), 'https://elsewhere').verify(jwt, key.pem)).rejects.toThrow(/does not verify/);
  });

  test('an endorsement is not a workload token and a workload token is not an endorsement', async () => {
    const signing = await generateSigningKey();
    const issuer = new WorkloadTokenIssuer(signing, ISS);
    const key = recordKey();
    const jwt = await new RecordKeyEndorser(signing, ISS).endorse(identity, recordKeyThumbprint(key.spki));
    await expect(verifyWorkloadToken(jwt, issuer.jwks().keys[0]!, { issuer: ISS })).rejects.toThrow();
    const { token } = await issuer.issue(identity);
    await expect(new RecordKeyTrust(issuer.jwks()).verify(token, key.pem)).rejects.toThrow(/does not verify/);
    // A token signed by the controller's key with the right typ and audience but a forged `rk`
    // can only come from the controller itself; with the forger's own signing key it fails.
    const forger = await generateSigningKey();
    const forged = await new SignJWT({ rk: recordKeyThumbprintOfPem(key.pem) })
      .setProtectedHeader({ alg: 'ES256', kid: signing.kid, typ: 'skillgate-record-key+jwt' })
      .setIssuer(ISS).setSubject('team-a/bot/bot-1').setAudience('skillgate-record').setIssuedAt()
      .sign(forger.privateKey);
    await expect(new RecordKeyTrust(issuer.jwks()).verify(forged, key.pem)).rejects.toThrow(/signature verification failed/);
  });

  test('a record key must be the base64url SPKI of an Ed25519 public key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64url');
    expect(() => recordKeyThumbprint(ec)).toThrow(new RecordKeyError('record_key must be an Ed25519 public key, got ec'));
    expect(() => recordKeyThumbprint('bm90IGEga2V5')).toThrow(/not a public key/);
    expect(() => recordKeyThumbprint('has spaces/and+plus')).toThrow(/base64url SPKI DER/);
    expect(() => recordKeyThumbprint('A'.repeat(201))).toThrow(/base64url SPKI DER/);
    expect(() => new RecordKeyTrust({ keys: [] })).toThrow(/holds no keys/);
  });
});
