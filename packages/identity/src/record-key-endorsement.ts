// Record-key endorsements: the trust anchor of the session record. A sidecar signs its record's
// checkpoints with an Ed25519 key it makes at start-up and publishes beside the events, so a key in
// the record proves nothing by itself: whoever can write to Redis can rewrite history and sign it
// again with a key of their own. During the token exchange the sidecar shows the controller its
// record key; the controller, having authenticated the pod, answers with an endorsement: a JWT
// signed with its token key (the one its JWKS publishes) binding the key's thumbprint to the pod's
// identity. Checkpoints carry it, and `skillgate sessions verify --trust-jwks` accepts only
// checkpoints whose key the controller endorsed. An endorsement has no expiry: it says which pod
// held the key, which stays true; it is not a bearer credential (its own `typ` and audience, so it
// can never pass for a workload token and no workload token can pass for it).
// Signs and verifies only; no disk, no network.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT, createLocalJWKSet, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { SkillIdentity } from '@skillgate/api';
import { WORKLOAD_TOKEN_ALG, subjectOf, systemClock, type Clock } from './workload-token.js';

export const RECORD_KEY_ENDORSEMENT_TYPE = 'skillgate-record-key+jwt';
export const RECORD_KEY_ENDORSEMENT_AUDIENCE = 'skillgate-record';

/** The claims of an endorsement, beyond iss/sub/aud/iat. */
export interface RecordKeyEndorsement {
  iss: string;
  /** `namespace/serviceAccount/pod` */
  sub: string;
  iat: number;
  /** SHA-256 (hex) of the record key's SPKI DER: binds the whole key, not the record's short key id. */
  rk: string;
  namespace: string;
  pod: string;
  skill: string;
  owner: string;
}

/** A JSON Web Key Set, as the controller serves at /.well-known/jwks.json. */
export interface Jwks {
  keys: JWK[];
}

export class RecordKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordKeyError';
  }
}

/**
 * The thumbprint of a record key sent in a token exchange (`record_key`: base64url of the Ed25519
 * public key's SPKI DER). Throws RecordKeyError when it is not an Ed25519 public key.
 */
export function recordKeyThumbprint(spkiBase64url: string): string {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(spkiBase64url)) throw new RecordKeyError('record_key must be the base64url SPKI DER of an Ed25519 public key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiBase64url, 'base64url'), format: 'der', type: 'spki' });
  } catch {
    throw new RecordKeyError('record_key is not a public key (base64url SPKI DER expected)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RecordKeyError(`record_key must be an Ed25519 public key, got ${key.asymmetricKeyType}`);
  return thumbprintOf(key);
}

/** The thumbprint of a record key given as PEM (what a store publishes). */
export function recordKeyThumbprintOfPem(publicKeyPem: string): string {
  return thumbprintOf(createPublicKey(publicKeyPem));
}

/** SHA-256 of the key's SPKI DER as Node encodes it (one encoding per key, whatever was sent). */
function thumbprintOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The controller's side: endorses record keys with the key that signs its workload tokens. */
export class RecordKeyEndorser {
  constructor(
    private readonly key: { kid: string; privateKey: CryptoKey },
    readonly issuer: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Endorse the record key with this thumbprint (recordKeyThumbprint) as held by this pod. */
  async endorse(identity: SkillIdentity, thumbprint: string): Promise<string> {
    const claims = { rk: thumbprint, namespace: identity.namespace, pod: identity.pod, skill: identity.skill, owner: identity.owner };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: WORKLOAD_TOKEN_ALG, kid: this.key.kid, typ: RECORD_KEY_ENDORSEMENT_TYPE })
      .setIssuer(this.issuer).setSubject(subjectOf(identity)).setAudience(RECORD_KEY_ENDORSEMENT_AUDIENCE)
      .setIssuedAt(Math.floor(this.clock() / 1000))
      .sign(this.key.privateKey);
  }
}

/** A verifier over one or more JWKS (the controller's /.well-known/jwks.json, saved or fetched). */
export class RecordKeyTrust {
  private readonly keySet: ReturnType<typeof createLocalJWKSet>;

  constructor(jwks: Jwks, private readonly issuer?: string) {
    if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) throw new RecordKeyError('the JWKS holds no keys');
    this.keySet = createLocalJWKSet(jwks);
  }

  /**
   * Verify that `endorsement` was signed by a key of the JWKS and endorses exactly this public key.
   * Returns its claims; throws RecordKeyError saying why not.
   */
  async verify(endorsement: string, publicKeyPem: string): Promise<RecordKeyEndorsement> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(endorsement, this.keySet, {
        algorithms: [WORKLOAD_TOKEN_ALG],
        typ: RECORD_KEY_ENDORSEMENT_TYPE,
        audience: RECORD_KEY_ENDORSEMENT_AUDIENCE,
        ...(this.issuer ? { issuer: this.issuer } : {}),
        requiredClaims: ['iss', 'sub', 'iat'],
      }));
    } catch (err) {
      throw new RecordKeyError(`its endorsement does not verify against the trusted JWKS (${(err as Error).message})`);
    }
    let thumbprint: string;
    try {
      thumbprint = recordKeyThumbprintOfPem(publicKeyPem);
    } catch (err) {
      throw new RecordKeyError(`its public key is unreadable (${(err as Error).message})`);
    }
    if (payload.rk !== thumbprint) throw new RecordKeyError('its endorsement is for another key');
    const str = (k: string): string => (typeof payload[k] === 'string' ? payload[k] as string : '');
    return {
      iss: str('iss'), sub: str('sub'), iat: payload.iat as number, rk: thumbprint,
      namespace: str('namespace'), pod: str('pod'), skill: str('skill'), owner: str('owner'),
    };
  }
}
