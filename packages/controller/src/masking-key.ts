// The installation masking key: the HMAC key of every masking fingerprint (and tokenize mode's
// placeholders) in every sidecar, so one value gets one fingerprint across the cluster and a
// responder holding the key can find it (`skillgate sessions find`). It must be secret: fingerprints
// of short values (an SSN, a card number) are found again by trying every value under a known key.
// Sidecars receive it with their workload token, as they receive the upstream credential: it is
// never in the skill's namespace. From a mounted file when one is given; else kept in a Secret the
// first replica creates (kept-secret.ts) with 32 random bytes; else (a local run) none, with a warning:
// sidecars then refuse to serve until they have one. The key is never logged.
import { randomBytes } from 'node:crypto';
import { MASKING_KEY_MIN_BYTES } from '@skillgate/api';
import { readFileSync } from 'node:fs';
import { keptSecretValue } from './kept-secret.js';
import type { KubeClients } from './kube.js';

export const MASKING_KEY_FIELD = 'masking-key';

export interface MaskingKeySource {
  /** A file holding the key (an operator's Secret, mounted). */
  maskingKeyFile?: string;
  /** A Secret this controller keeps the key in, creating it on first start. */
  maskingKeySecret?: { namespace: string; name: string };
}

const checkKey = (key: string): void => {
  if (Buffer.byteLength(key, 'utf8') < MASKING_KEY_MIN_BYTES) throw new Error(`a masking key must be at least ${MASKING_KEY_MIN_BYTES} bytes`);
};

export async function loadMaskingKey(
  source: MaskingKeySource,
  kube: Pick<KubeClients, 'core'> | undefined,
  log: { info(o: object, m: string): void; warn(m: string): void },
): Promise<string | undefined> {
  if (source.maskingKeyFile) {
    const key = readFileSync(source.maskingKeyFile, 'utf8').trim();
    try {
      checkKey(key);
    } catch (err) {
      throw new Error(`${source.maskingKeyFile}: ${(err as Error).message}`);
    }
    return key;
  }
  if (source.maskingKeySecret && kube) {
    const { value, created } = await keptSecretValue(kube, {
      ref: source.maskingKeySecret, field: MASKING_KEY_FIELD, what: 'masking key', component: 'masking-key',
      make: newMaskingKey, check: checkKey,
      purpose: 'HMAC key of the masking fingerprints in every session record (give it to responders for `skillgate sessions find`). Deleting it makes sidecars fingerprint with a new key: values recorded before can no longer be found by value.',
    });
    log.info({ secret: `${source.maskingKeySecret.namespace}/${source.maskingKeySecret.name}`, created }, created ? 'masking key created in its Secret' : 'masking key read from its Secret');
    return value;
  }
  log.warn('no masking key file or Secret configured: sidecars get no installation masking key and refuse to serve (set SKILLGATE_MASKING_KEY_SECRET or SKILLGATE_MASKING_KEY_FILE)');
  return undefined;
}

/** 32 random bytes, base64url: the key as text. */
export function newMaskingKey(): string {
  return randomBytes(32).toString('base64url');
}
