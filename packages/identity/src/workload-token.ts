// Workload tokens: the short-lived JWTs the controller issues to a sidecar in exchange for its pod's
// projected ServiceAccount token. They name the skill, its owner, namespace, pod and policy
// generation, carry a jti that a lock can target, and expire (default 10 minutes, never more than an
// hour) so that even a sidecar cut off from the lock feed and the controller loses its power soon: at
// its token's expiry it refuses new requests and cuts the streams and egress connections still open.
// This module signs and verifies; it never reads keys from disk or talks to the network.
import { randomUUID } from 'node:crypto';
import {
  SignJWT, jwtVerify, decodeJwt, exportJWK, importJWK, importPKCS8, generateKeyPair,
  errors as joseErrors, type JWK, type CryptoKey, type JWTPayload,
} from 'jose';
import type { SkillIdentity } from '@skillgate/api';

export const WORKLOAD_TOKEN_ALG = 'ES256';
export const WORKLOAD_TOKEN_AUDIENCE = 'skillgate-sidecar';
export const DEFAULT_TOKEN_TTL_SECONDS = 600;
export const MAX_TOKEN_TTL_SECONDS = 3600;

/** Milliseconds since the epoch; injectable so tests control expiry. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

export interface WorkloadClaims {
  /** `namespace/serviceAccount/pod` */
  sub: string;
  jti: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  skill: string;
  owner: string;
  namespace: string;
  serviceAccount: string;
  pod: string;
  podUid?: string;
  /** Generation of the SkillPolicy set the sidecar should be running (0 when unknown). */
  policyGeneration: number;
}

export interface IssuedWorkloadToken {
  token: string;
  claims: WorkloadClaims;
  /** Seconds until expiry, as RFC 8693 `expires_in`. */
  expiresIn: number;
}

export class WorkloadTokenError extends Error {
  constructor(readonly reason: 'expired' | 'invalid' | 'audience' | 'issuer' | 'claims', message: string) {
    super(message);
    this.name = 'WorkloadTokenError';
  }
}

export function subjectOf(identity: Pick<SkillIdentity, 'namespace' | 'serviceAccount' | 'pod'>): string {
  return `${identity.namespace}/${identity.serviceAccount}/${identity.pod}`;
}

export function identityOf(claims: WorkloadClaims): SkillIdentity {
  return {
    namespace: claims.namespace,
    serviceAccount: claims.serviceAccount,
    pod: claims.pod,
    ...(claims.podUid ? { podUid: claims.podUid } : {}),
    skill: claims.skill,
    owner: claims.owner,
  };
}

/** Clamp a requested TTL into (0, max]; absent means the default. */
export function effectiveTtl(requested: number | undefined, max = MAX_TOKEN_TTL_SECONDS): number {
  if (requested === undefined) return Math.min(DEFAULT_TOKEN_TTL_SECONDS, max);
  if (!Number.isFinite(requested) || requested <= 0) throw new RangeError(`token TTL must be positive, got ${requested}`);
  return Math.min(Math.floor(requested), max, MAX_TOKEN_TTL_SECONDS);
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(WORKLOAD_TOKEN_ALG, { extractable: true });
  return withPublicJwk(privateKey, await exportJWK(publicKey));
}

/** A signing key from a PKCS#8 PEM (EC P-256), as mounted from a Secret. */
export async function signingKeyFromPem(pem: string): Promise<SigningKey> {
  const privateKey = await importPKCS8(pem, WORKLOAD_TOKEN_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...publicJwk } = jwk;
  return withPublicJwk(privateKey, publicJwk);
}

async function withPublicJwk(privateKey: CryptoKey, publicJwk: JWK): Promise<SigningKey> {
  const { createHash } = await import('node:crypto');
  const kid = createHash('sha256').update(`${publicJwk.crv}.${publicJwk.x}.${publicJwk.y}`).digest('base64url').slice(0, 16);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: WORKLOAD_TOKEN_ALG, use: 'sig' } };
}

export interface IssueOptions {
  ttlSeconds?: number;
  policyGeneration?: number;
}

export class WorkloadTokenIssuer {
  constructor(
    private readonly key: SigningKey,
    readonly issuer: string,
    private readonly clock: Clock = systemClock,
    readonly maxTtlSeconds = MAX_TOKEN_TTL_SECONDS,
  ) {}

  /** The JWKS the controller publishes so anyone can verify tokens. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.key.publicJwk] };
  }

  async issue(identity: SkillIdentity, opts: IssueOptions = {}): Promise<IssuedWorkloadToken> {
    const ttl = effectiveTtl(opts.ttlSeconds, this.maxTtlSeconds);
    const iat = Math.floor(this.clock() / 1000);
    const claims: WorkloadClaims = {
      sub: subjectOf(identity),
      jti: randomUUID(),
      iss: this.issuer,
      aud: WORKLOAD_TOKEN_AUDIENCE,
      iat,
      exp: iat + ttl,
      skill: identity.skill,
      owner: identity.owner,
      namespace: identity.namespace,
      serviceAccount: identity.serviceAccount,
      pod: identity.pod,
      ...(identity.podUid ? { podUid: identity.podUid } : {}),
      policyGeneration: opts.policyGeneration ?? 0,
    };
    const { sub, jti, iss, aud, iat: _i, exp, ...custom } = claims;
    const token = await new SignJWT(custom as unknown as JWTPayload)
      .setProtectedHeader({ alg: WORKLOAD_TOKEN_ALG, kid: this.key.kid, typ: 'JWT' })
      .setSubject(sub).setJti(jti).setIssuer(iss).setAudience(aud).setIssuedAt(iat).setExpirationTime(exp)
      .sign(this.key.privateKey);
    return { token, claims, expiresIn: ttl };
  }
}

export interface VerifyOptions {
  issuer: string;
  clock?: Clock;
  /** Tolerated clock skew in seconds. */
  clockToleranceSeconds?: number;
}

/** Verify signature, issuer, audience and expiry; returns the typed claims or throws WorkloadTokenError. */
export async function verifyWorkloadToken(token: string, publicJwk: JWK, opts: VerifyOptions): Promise<WorkloadClaims> {
  const key = await importJWK(publicJwk, WORKLOAD_TOKEN_ALG);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [WORKLOAD_TOKEN_ALG],
      issuer: opts.issuer,
      audience: WORKLOAD_TOKEN_AUDIENCE,
      currentDate: new Date((opts.clock ?? systemClock)()),
      clockTolerance: opts.clockToleranceSeconds ?? 0,
      requiredClaims: ['jti', 'sub', 'exp', 'iat'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new WorkloadTokenError('expired', 'workload token expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') throw new WorkloadTokenError('audience', 'workload token has the wrong audience');
      if (err.claim === 'iss') throw new WorkloadTokenError('issuer', 'workload token has the wrong issuer');
    }
    throw new WorkloadTokenError('invalid', `workload token rejected: ${(err as Error).message}`);
  }
  return claimsFromPayload(payload);
}

/** Read claims WITHOUT verifying the signature: for the holder of a token it just received over TLS. */
export function readWorkloadToken(token: string): WorkloadClaims {
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
  } catch (err) {
    throw new WorkloadTokenError('invalid', `not a JWT: ${(err as Error).message}`);
  }
  return claimsFromPayload(payload);
}

function claimsFromPayload(p: JWTPayload): WorkloadClaims {
  const str = (k: string): string => {
    const v = p[k];
    if (typeof v !== 'string' || !v) throw new WorkloadTokenError('claims', `workload token lacks claim ${k}`);
    return v;
  };
  const num = (k: string): number => {
    const v = p[k];
    if (typeof v !== 'number') throw new WorkloadTokenError('claims', `workload token lacks claim ${k}`);
    return v;
  };
  const aud = Array.isArray(p.aud) ? p.aud[0] : p.aud;
  return {
    sub: str('sub'), jti: str('jti'), iss: str('iss'), aud: typeof aud === 'string' ? aud : '',
    iat: num('iat'), exp: num('exp'),
    skill: str('skill'), owner: str('owner'), namespace: str('namespace'),
    serviceAccount: str('serviceAccount'), pod: str('pod'),
    ...(typeof p.podUid === 'string' ? { podUid: p.podUid } : {}),
    policyGeneration: typeof p.policyGeneration === 'number' ? p.policyGeneration : 0,
  };
}
