// The controller's signing key: it signs workload tokens and endorses sidecars' record keys, and its
// JWKS is the trust anchor of `skillgate sessions verify --trust-jwks`, so every replica must hold the
// same key and keep it across restarts. From a mounted file when one is given; else from a Secret
// in the controller's namespace that the first replica to start creates and every replica then
// reads (a 409 on create means another replica won: read theirs); else, with neither (a local run),
// a key made for this process, with a warning. The private key is never logged.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generateSigningKey, signingKeyFromPem, type SigningKey } from '@skillgate/identity';
import { keptSecretValue, KeptSecretError } from './kept-secret.js';
import type { KubeClients } from './kube.js';

export const SIGNING_KEY_FIELD = 'signing-key.pem';

export interface SigningKeySource {
  /** PKCS#8 PEM, EC P-256 (a mounted Secret of the operator's). */
  signingKeyFile?: string;
  /** A Secret this controller keeps the key in, creating it on first start. */
  signingKeySecret?: { namespace: string; name: string };
}

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

export async function loadSigningKey(
  source: SigningKeySource,
  kube: Pick<KubeClients, 'core'> | undefined,
  log: { info(o: object, m: string): void; warn(m: string): void },
): Promise<SigningKey> {
  if (source.signingKeyFile) return fromPem(readFileSync(source.signingKeyFile, 'utf8'), source.signingKeyFile);
  if (source.signingKeySecret && kube) {
    const { key, created } = await signingKeyFromSecret(kube, source.signingKeySecret);
    log.info({ secret: `${source.signingKeySecret.namespace}/${source.signingKeySecret.name}`, kid: key.kid, created }, created ? 'signing key created in its Secret' : 'signing key read from its Secret');
    return key;
  }
  log.warn('no signing key file or Secret configured: using an ephemeral key (tokens and record-key endorsements stop verifying after a restart, and replicas do not share it)');
  return generateSigningKey();
}

/** Read the key from its Secret, creating the Secret with a new key when there is none yet. */
export async function signingKeyFromSecret(
  kube: Pick<KubeClients, 'core'>,
  ref: { namespace: string; name: string },
  newPem: () => string = newSigningKeyPem,
): Promise<{ key: SigningKey; created: boolean }> {
  try {
    const { value, created } = await keptSecretValue(kube, {
      ref, field: SIGNING_KEY_FIELD, what: 'signing key', component: 'signing-key', make: newPem,
      purpose: 'ES256 key of workload tokens and record-key endorsements; its public half is the JWKS that verifies session records. Deleting it invalidates every issued token and makes records endorsed before unverifiable without a saved JWKS.',
      check: (pem) => { createPrivateKey(pem); },
    });
    return { key: await fromPem(value, `Secret ${ref.namespace}/${ref.name}`), created };
  } catch (err) {
    throw err instanceof KeptSecretError ? new SigningKeyError(err.message) : err;
  }
}

export function newSigningKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function fromPem(pem: string, where: string): Promise<SigningKey> {
  try {
    return await signingKeyFromPem(pem);
  } catch (err) {
    throw new SigningKeyError(`the signing key in ${where} is not a PKCS#8 EC P-256 private key (${(err as Error).message})`);
  }
}
