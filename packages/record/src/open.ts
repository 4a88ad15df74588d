// Choosing and opening the record: Redis Streams when a Redis URL is given (REDIS_URL or --redis),
// else the embedded local file store (SKILLGATE_RECORD_DIR, default ./.skillgate/records). Also
// loads the checkpoint signing key. The only module here that reads the environment.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordSigner } from './checkpoint.js';
import { FileSessionStore } from './file-store.js';
import { SessionRecorder, type RecorderLog } from './recorder.js';
import type { RedisRetention } from './redis-store.js';
import type { SessionStore } from './store.js';

export const DEFAULT_RECORD_DIR = './.skillgate/records';
export const DEFAULT_SPOOL_BYTES = 256 * 1024 * 1024;

export interface RecordConfig {
  /** Redis URL; unset selects the local file store. */
  redisUrl?: string;
  /** Local store directory (and default parent of the spool). */
  recordDir: string;
  redisPrefix?: string;
  retention?: RedisRetention;
  /** Spool directory for Redis outages. Default <recordDir>/../spool. */
  spoolDir?: string;
  /** Spool bound in bytes; 0 disables the spool (Redis errors then refuse requests). */
  spoolMaxBytes: number;
  /** PKCS#8 PEM Ed25519 private key for checkpoints (a mounted Secret in a cluster). */
  signingKeyFile?: string;
  checkpointIntervalMs?: number;
}

/** The record config from the environment (CONTRACT.md names), with explicit overrides. */
export function recordConfigFromEnv(env: NodeJS.ProcessEnv = process.env, override: Partial<RecordConfig> = {}): RecordConfig {
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
    return n;
  };
  const retention: RedisRetention = {};
  const maxLen = num('SKILLGATE_RECORD_MAXLEN');
  const maxAge = num('SKILLGATE_RECORD_MAX_AGE_SECONDS');
  if (maxLen) retention.maxLen = maxLen;
  if (maxAge) retention.maxAgeMs = maxAge * 1000;
  const cfg: RecordConfig = {
    recordDir: env.SKILLGATE_RECORD_DIR || DEFAULT_RECORD_DIR,
    spoolMaxBytes: num('SKILLGATE_RECORD_SPOOL_BYTES') ?? DEFAULT_SPOOL_BYTES,
    retention,
  };
  if (env.REDIS_URL) cfg.redisUrl = env.REDIS_URL;
  if (env.SKILLGATE_REDIS_PREFIX) cfg.redisPrefix = env.SKILLGATE_REDIS_PREFIX;
  if (env.SKILLGATE_RECORD_SPOOL_DIR) cfg.spoolDir = env.SKILLGATE_RECORD_SPOOL_DIR;
  if (env.SKILLGATE_RECORD_SIGNING_KEY_FILE) cfg.signingKeyFile = env.SKILLGATE_RECORD_SIGNING_KEY_FILE;
  return { ...cfg, ...stripUndefined(override) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Open the store. `failFast` (the sidecar's recorder): Redis commands fail at once while Redis is
 * away so the recorder spools; Redis gets up to 3 s to connect, so that the signing key is published
 * and the first requests are recorded there rather than spooled, and a Redis that is down at start
 * is not fatal. Otherwise (the CLI) wait for the connection and fail with a reason. `readOnly` (the
 * CLI's forensics): a local store is read as it is, nothing created in its directory.
 */
export async function openSessionStore(cfg: Pick<RecordConfig, 'redisUrl' | 'recordDir' | 'redisPrefix' | 'retention'>, opts: { failFast?: boolean; readOnly?: boolean } = {}): Promise<SessionStore> {
  if (!cfg.redisUrl) return new FileSessionStore(cfg.recordDir, { readOnly: opts.readOnly });
  // Loaded only when Redis is used.
  const { RedisSessionStore } = await import('./redis-store.js');
  const store = new RedisSessionStore({ redis: cfg.redisUrl, prefix: cfg.redisPrefix, retention: cfg.retention, failFast: opts.failFast });
  if (opts.failFast) {
    await store.ready(3000).catch(() => undefined);
  } else {
    try {
      await store.ready();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  return store;
}

/**
 * The checkpoint signing key: from `keyFile` when given; else, for a local store, the key kept in
 * <dir>/signing-key.pem, which its writer creates (0600) on first use — a reader (`create: false`:
 * an export) never writes a key into a record, it only uses one that is there; else a key made for
 * this process only (`ephemeral`: it proves nothing about who signed).
 */
export function loadSigner(opts: { keyFile?: string; dir?: string; create?: boolean }): { signer: RecordSigner; ephemeral: boolean } {
  if (opts.keyFile) return { signer: signerFromFile(opts.keyFile), ephemeral: false };
  if (opts.dir) {
    const file = join(opts.dir, 'signing-key.pem');
    if (existsSync(file)) return { signer: signerFromFile(file), ephemeral: false };
    if (opts.create === false) return { signer: RecordSigner.generate(), ephemeral: true };
    const signer = RecordSigner.generate();
    mkdirSync(opts.dir, { recursive: true });
    writeFileSync(file, signer.privateKeyPem(), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return { signer, ephemeral: false };
  }
  return { signer: RecordSigner.generate(), ephemeral: true };
}

/** The key in a PEM file, failing with one line that names the file (not OpenSSL's decoder codes). */
function signerFromFile(file: string): RecordSigner {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (err as Error).message}`);
  }
  try {
    return RecordSigner.fromPem(pem);
  } catch (err) {
    const other = /must be Ed25519, got (\S+)/.exec((err as Error).message);
    throw new Error(`${file} is not a PKCS#8 Ed25519 private key in PEM${other ? ` (it holds a key of type ${other[1]})` : ''}`);
  }
}

/**
 * The sidecar's checkpoint signer for this config (see loadSigner). `inRedis` says where the record
 * goes when the Redis URL is not known yet (a cluster sidecar gets it with its first token).
 */
export function recordSignerFor(cfg: Pick<RecordConfig, 'redisUrl' | 'recordDir' | 'signingKeyFile'>, inRedis = Boolean(cfg.redisUrl)): RecordSigner {
  return loadSigner({ keyFile: cfg.signingKeyFile, dir: inRedis ? undefined : cfg.recordDir }).signer;
}

/**
 * Open the sidecar's recorder with its store, spool and signing key (made before, when something
 * else needs it first: the token exchange has the controller endorse it). Close the recorder, then
 * the store.
 */
export async function openRecorder(cfg: RecordConfig, log?: RecorderLog, signer: RecordSigner = recordSignerFor(cfg)): Promise<{ recorder: SessionRecorder; store: SessionStore }> {
  const store = await openSessionStore(cfg, { failFast: true });
  const local = !cfg.redisUrl;
  const recorder = await SessionRecorder.open({
    store,
    signer,
    // The local store is already a local durable file: a spool in front of it adds nothing.
    spool: local ? undefined : { dir: cfg.spoolDir ?? join(cfg.recordDir, '..', 'spool'), maxBytes: cfg.spoolMaxBytes },
    checkpointIntervalMs: cfg.checkpointIntervalMs,
    log,
  });
  return { recorder, store };
}
