// Signed checkpoints: every so often a writer (one recorder process) signs the heads of the
// sessions it appended to since its previous checkpoint, with an Ed25519 key. Checkpoints form
// their own chain per writer, so dropping one is visible too. A rewritten-and-rehashed session
// chain still fails here, because its new head differs from the signed one.
// Keys: node:crypto Ed25519; key id = 'ed25519-' + first 16 hex of sha256(SPKI DER). This module
// never logs or returns the private key. In a cluster the controller endorses a sidecar's key
// (@skillgate/identity, record-key-endorsement.ts) and its checkpoints carry that endorsement, under
// their signature, for verifiers that trust the controller's JWKS rather than keys found in the store.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { GENESIS, type ChainProblem, type HeadCommitment } from './chain.js';
import { sha256Hex } from './event.js';
import { isoTimestamp } from './timestamp.js';

export interface CheckpointHead {
  sessionId: string;
  seq: number;
  hash: string;
}

export interface Checkpoint {
  v: 1;
  kind: 'checkpoint';
  /** The recorder process that signed it (pod name + process start). */
  writer: string;
  /** Per-writer sequence number. */
  seq: number;
  ts: string;
  keyId: string;
  /** Hash of this writer's previous checkpoint (GENESIS for its first). */
  prev: string;
  heads: CheckpointHead[];
  /** The controller's endorsement of `keyId` (a JWT), when the signer had one. */
  endorsement?: string;
  /** sha256 hex of the canonical JSON without `hash` and `signature`. */
  hash: string;
  /** Ed25519 signature over the ASCII of `hash`, base64url. */
  signature: string;
}

export class RecordSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;
  /** The public key as base64url SPKI DER: what a sidecar sends the controller to be endorsed. */
  readonly publicKeySpki: string;
  /** The controller's endorsement of this key, once it has one; later checkpoints carry it. */
  endorsement: string | undefined;

  private constructor(private readonly privateKey: KeyObject) {
    const publicKey = createPublicKey(privateKey);
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.publicKeySpki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64url');
    this.keyId = keyIdOf(this.publicKeyPem);
  }

  static generate(): RecordSigner {
    return new RecordSigner(generateKeyPairSync('ed25519').privateKey);
  }

  /** From a PKCS#8 PEM private key (e.g. a mounted Secret). */
  static fromPem(pem: string): RecordSigner {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`record signing key must be Ed25519, got ${key.asymmetricKeyType}`);
    return new RecordSigner(key);
  }

  privateKeyPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  sign(text: string): string {
    return sign(null, Buffer.from(text), this.privateKey).toString('base64url');
  }
}

export function keyIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `ed25519-${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

/** Whether `publicKeyPem` is the key `keyId` names (false for a PEM that is no key). */
export function isKeyOf(keyId: string, publicKeyPem: string): boolean {
  try {
    return keyIdOf(publicKeyPem) === keyId;
  } catch {
    return false;
  }
}

export function verifySignature(publicKeyPem: string, text: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(text), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

export function checkpointHash(cp: Omit<Checkpoint, 'hash' | 'signature'> & Partial<Pick<Checkpoint, 'hash' | 'signature'>>): string {
  return sha256Hex(canonicalJson({ ...cp, hash: undefined, signature: undefined }));
}

/** Build and sign the next checkpoint of `writer`. */
export function signCheckpoint(
  signer: RecordSigner,
  writer: string,
  previous: Pick<Checkpoint, 'seq' | 'hash'> | undefined,
  heads: CheckpointHead[],
  now: Date = new Date(),
): Checkpoint {
  const body = {
    v: 1 as const,
    kind: 'checkpoint' as const,
    writer,
    seq: previous ? previous.seq + 1 : 0,
    ts: isoTimestamp(now.getTime()),
    keyId: signer.keyId,
    prev: previous ? previous.hash : GENESIS,
    heads: [...heads].sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0)),
    ...(signer.endorsement ? { endorsement: signer.endorsement } : {}),
  };
  const hash = checkpointHash(body);
  return { ...body, hash, signature: signer.sign(hash) };
}

export function checkpointId(cp: Pick<Checkpoint, 'writer' | 'seq'>): string {
  return `${cp.writer}#${cp.seq}`;
}

/**
 * Verify checkpoints in stored order against the public keys by key id. Returns the first problem
 * and, when there is none, the head commitments per session for `verifySession`. `untrusted` names,
 * by checkpoint id, the checkpoints whose key a stricter verifier refuses and why (judgeCheckpointKeys
 * in verify.ts).
 */
export function verifyCheckpoints(
  checkpoints: readonly Checkpoint[],
  publicKeys: Readonly<Record<string, string>>,
  untrusted?: ReadonlyMap<string, string>,
): { problem?: ChainProblem; commitments: Map<string, HeadCommitment[]> } {
  const commitments = new Map<string, HeadCommitment[]>();
  const lastOfWriter = new Map<string, Checkpoint>();
  for (const cp of checkpoints) {
    const id = checkpointId(cp);
    if (checkpointHash(cp) !== cp.hash) {
      return { commitments, problem: { kind: 'checkpoint-signature', checkpoint: id, message: `checkpoint ${id} was altered: its content does not match its hash` } };
    }
    const pem = publicKeys[cp.keyId];
    if (!pem) {
      return { commitments, problem: { kind: 'unknown-key', checkpoint: id, message: `checkpoint ${id} is signed by key ${cp.keyId}, which the verifier does not hold` } };
    }
    if (!isKeyOf(cp.keyId, pem)) {
      return { commitments, problem: { kind: 'checkpoint-signature', checkpoint: id, message: `checkpoint ${id} names key ${cp.keyId}, but the public key held under that id is another key (an id is a digest of its key)` } };
    }
    if (!verifySignature(pem, cp.hash, cp.signature)) {
      return { commitments, problem: { kind: 'checkpoint-signature', checkpoint: id, message: `checkpoint ${id} has an invalid signature for key ${cp.keyId}` } };
    }
    const distrust = untrusted?.get(id);
    if (distrust !== undefined) {
      return { commitments, problem: { kind: 'untrusted-key', checkpoint: id, message: `checkpoint ${id} is signed by key ${cp.keyId}, which is not trusted: ${distrust}` } };
    }
    const last = lastOfWriter.get(cp.writer);
    const expectedSeq = last ? last.seq + 1 : cp.seq; // a store may hold a writer's later checkpoints only (retention)
    if (cp.seq !== expectedSeq || (last && cp.prev !== last.hash)) {
      const missing = last ? last.seq + 1 : cp.seq;
      return { commitments, problem: { kind: 'checkpoint-missing', checkpoint: `${cp.writer}#${missing}`, message: `checkpoint ${cp.writer}#${missing} is missing or out of order (found ${id} after ${last ? checkpointId(last) : 'nothing'})` } };
    }
    lastOfWriter.set(cp.writer, cp);
    for (const h of cp.heads) {
      let list = commitments.get(h.sessionId);
      if (!list) commitments.set(h.sessionId, (list = []));
      list.push({ seq: h.seq, hash: h.hash, checkpoint: id });
    }
  }
  return { commitments };
}
