// ClusterIdentity: the sidecar's identity and upstream credential in a cluster. It exchanges the
// pod's projected ServiceAccount token (audience skillgate) at the controller for a short-lived
// workload token (RFC 8693), refreshes at ~80% of its life — or of the upstream credential's, when
// that ends first (a federated credential) — and fails closed: with no valid token, or a credential
// past its expiry, it refuses every request with 401 (missing/expired) or 403 (revoked: owner
// offboarded), and credential() gives nothing to forward with. A token the lock set revokes is
// dropped at once and refused as revoked until a new one arrives, not merely while the revocation
// lock lasts (it lapses at the controller's expiry, which may come before this sidecar's). Each way
// the token goes — refused, revoked, expired (a timer at its expiry) — tells the onStandingLost
// listeners, which cut what the skill holds open; a controller that is merely unreachable while the
// token is valid cuts nothing (the token's expiry bounds that). When the controller refused a token
// because a SkillLock matches the skill, the request goes on to the admit stage, which answers it as
// any locked request (SG_LOCKED, counted for the lock's status); the lock lifted, it re-exchanges at
// once instead of waiting out its retry backoff.
// The upstream credential, the installation masking key (the HMAC key of masking's fingerprints,
// shared by every sidecar) and, when the operator keeps it in a Secret, the Redis URL arrive with the
// token and are never logged or written anywhere; the controller's CA bundle arrives with every
// answer and is kept in the pod's volume for a restart. The exchanges also show the controller the
// record's public key until it has endorsed it; the endorsement goes into the record's checkpoints
// (the record's trust anchor, @skillgate/identity).
import { http, https } from '../node-http.js';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { SkillIdentity } from '@skillgate/api';
import { MASKING_KEY_MIN_BYTES, TOKEN_AUDIENCE, certificateBlocks } from '@skillgate/api';
import { readWorkloadToken, identityOf, revocationLockName, type WorkloadClaims } from '@skillgate/identity';
import { GatewayError, codes } from '@skillgate/wire';
import type { CredentialSource, IdentitySource, LockGuard } from '../ports/index.js';
import type { Logger } from '../log.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

export type IdentityEvent =
  | { type: 'token_issued'; jti: string; expiresAt: number }
  | { type: 'token_refused'; error: string; description: string }
  | { type: 'token_revoked'; jti: string; reason: string }
  | { type: 'token_expired'; jti: string };

export interface ClusterIdentityOptions {
  controllerUrl: string;
  /** The projected ServiceAccount token (re-read on every exchange: the kubelet rotates it). */
  tokenFile: string;
  /** PEM bundle to trust for the controller's HTTPS certificate. */
  caFile?: string;
  /** The controller's CA as PEM text (SKILLGATE_CONTROLLER_CA, set by the injector); wins over caFile. */
  caPem?: string;
  /**
   * Where to keep the CA bundle the controller hands over with each token (SKILLGATE_CONTROLLER_CA_CACHE,
   * set by the injector in the pod's skillgate volume): read at start instead of the injected CA, so a
   * sidecar restarted after a CA rotation still trusts the controller.
   */
  caCacheFile?: string;
  /** What the pod says about itself (downward API), used until the first exchange succeeds. */
  fallback: SkillIdentity;
  /** Refresh at this fraction of the token's life. */
  refreshFraction?: number;
  /** Longest wait between failed attempts. */
  maxRetryMs?: number;
  requestTimeoutMs?: number;
  clock?: () => number;
  log?: Logger;
  /** Every issue, refusal, revocation and expiry: for the session record. */
  onEvent?: (e: IdentityEvent) => void;
  /**
   * The record's checkpoint key (base64url SPKI DER), sent as `record_key` with each exchange until
   * the controller has endorsed it; `onEndorsed` gets that endorsement (once: it has no expiry, and
   * fewer distinct endorsements make a record quicker to verify).
   */
  recordKey?: { spki: string; onEndorsed: (endorsement: string) => void };
  /**
   * Refuse to serve until the controller has handed over the installation masking key (true unless
   * the operator set one on the sidecar itself): masking with a key everyone knows would make every
   * fingerprint in the record reversible.
   */
  needsMaskingKey?: boolean;
}

interface Held {
  token: string;
  claims: WorkloadClaims;
  identity: SkillIdentity;
  expiresAt: number;
  /** expiresAt: when the credential itself expires (upstream_credential.expires_in), if it does. */
  credential?: { type: 'api_key' | 'bearer'; value: string; expiresAt?: number };
}

/** What the identity asks of the lock set: revocations by name, and whether a lock matches the skill. */
export type IdentityLockView = Pick<LockGuard, 'onChange' | 'match'> & { lockNamed(name: string): { reason: string } | undefined };

/** A credential with less life than this left when it arrives is treated as dead on arrival. */
const MIN_CREDENTIAL_REFRESH_MS = 1000;

/** How many tokens held before the current one are remembered, and for how long after their expiry (the controller keeps expired jtis of a pod as long: token-exchange/issued.ts). */
const FORMER_TOKENS_MAX = 16;
const FORMER_TOKEN_KEEP_MS = 60 * 60 * 1000;

export class ClusterIdentity implements IdentitySource, CredentialSource {
  private held: Held | undefined;
  /** Tokens (jti, expiry) held before the current one, newest last: a responder's lock on one binds this pod. */
  private former: Array<{ jti: string; expiresAt: number }> = [];
  private formerIds: readonly string[] = [];
  /** Who the last token said the skill is: kept through a refusal, so locks match the same identity. */
  private lastIdentity: SkillIdentity | undefined;
  /** Why the last exchange failed: `denied` means the controller refused on purpose (403). */
  private failure: { denied: boolean; error: string; description: string } | undefined;
  /** The lock set (watchRevocations), once given. */
  private locks: IdentityLockView | undefined;
  /** A SkillLock matched the skill while the controller refused it a token. */
  private deniedUnderLock = false;
  /** ...and has been lifted since: a re-exchange is on its way. */
  private lockLifted = false;
  /** The token the lock set revoked, refused as revoked until a new token arrives. */
  private revoked: { jti: string; reason: string } | undefined;
  private readonly lostListeners: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  /** Fires at the held token's expiry (re-armed with each new token). */
  private expiryTimer: NodeJS.Timeout | undefined;
  private retryMs = 500;
  private closed = false;
  private inflight: Promise<void> | undefined;
  private endorsement: string | undefined;
  private warnedUnendorsed = false;
  private installationMaskingKey: string | undefined;
  private handedRedisUrl: string | undefined;
  private warnedRedisUrlChange = false;
  private readonly exchanged: Promise<void>;
  private readonly holds = new Set<NodeJS.Timeout>();
  private markExchanged!: () => void;
  private readonly clock: () => number;
  private ca: Buffer | undefined;

  constructor(private readonly opts: ClusterIdentityOptions) {
    this.clock = opts.clock ?? Date.now;
    this.ca = cachedCa(opts.caCacheFile) ?? (opts.caPem ? Buffer.from(opts.caPem) : opts.caFile ? readFileSync(opts.caFile) : undefined);
    this.exchanged = new Promise((resolve) => { this.markExchanged = resolve; });
  }

  /** First exchange. Resolves either way: a failure leaves the sidecar refusing until a retry works. */
  async start(): Promise<void> {
    await this.refreshNow();
  }

  identity(): SkillIdentity {
    return this.held?.identity ?? this.lastIdentity ?? this.opts.fallback;
  }

  tokenId(): string | undefined {
    return this.held?.claims.jti;
  }

  /**
   * The workload tokens this sidecar held before its current one (jtis, up to an hour past their
   * expiry): a responder's lock on any of them binds this pod as a lock on the current one does.
   */
  formerTokenIds(): readonly string[] {
    const f = this.former;
    if (f.length > 0 && f[0]!.expiresAt + FORMER_TOKEN_KEEP_MS < this.clock()) {
      const now = this.clock();
      this.former = f.filter((t) => t.expiresAt + FORMER_TOKEN_KEEP_MS >= now);
      this.formerIds = this.former.map((t) => t.jti);
    }
    return this.formerIds;
  }

  /** Remember a token this sidecar no longer uses (replaced, refused or revoked). */
  private retire(held: Held | undefined): void {
    if (!held || this.former.some((t) => t.jti === held.claims.jti)) return;
    this.former.push({ jti: held.claims.jti, expiresAt: held.expiresAt });
    if (this.former.length > FORMER_TOKENS_MAX) this.former.shift();
    this.formerIds = this.former.map((t) => t.jti);
  }

  /** The workload token itself, for presenting to other skillgate components. */
  token(): string | undefined {
    return this.usable()?.token;
  }

  /**
   * Why this skill may not act now, or undefined. Undefined also while the controller refuses the
   * skill a token because a SkillLock matches it: the admit stage, next, refuses the request with
   * SG_LOCKED and counts it for the lock (and credential() lets nothing go upstream meanwhile).
   */
  refusal(): GatewayError | undefined {
    if (this.failure?.denied) {
      if (this.lockedNow()) return undefined;
      return this.withoutToken();
    }
    const held = this.usable();
    if (held && this.opts.needsMaskingKey && !this.installationMaskingKey) {
      return new GatewayError(codes.tokenMissing, 'authentication_error',
        'The skillgate controller gave this sidecar no installation masking key, so it cannot mask or record. Nothing is forwarded until it does: operators, set the controller\'s SKILLGATE_MASKING_KEY_SECRET (the chart does) or SKILLGATE_MASKING_KEY_FILE.');
    }
    if (held) return this.credentialExpired(held);
    return this.withoutToken();
  }

  /**
   * Why what the skill holds open must be cut: its token refused by the controller (unless a lock
   * that matches the skill is why: that lock cuts it), revoked, or expired, or none held yet. Not
   * for a credential past its own expiry or a missing masking key (new requests only), nor while a
   * valid token merely cannot be refreshed.
   */
  standingLost(): GatewayError | undefined {
    if (this.failure?.denied) return this.lockedNow() ? undefined : this.withoutToken();
    return this.usable() ? undefined : this.withoutToken();
  }

  onStandingLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  /**
   * Resolves once an exchange has succeeded (it may take many retries: the identity retries on its
   * own, logging why each failed). What the controller hands over is known from then on.
   */
  whenExchanged(): Promise<void> {
    if (this.held) return Promise.resolve();
    if (this.closed) return this.exchanged;
    // The retry timer is unref'd (a closed sidecar must be free to exit): while someone waits for
    // a first token, something has to keep the process up, or it ends with nothing left to run.
    const hold = setInterval(() => undefined, 2 ** 30);
    this.holds.add(hold);
    return this.exchanged.finally(() => {
      clearInterval(hold);
      this.holds.delete(hold);
    });
  }

  /**
   * The Redis URL the controller handed over with the first token that carried one (the chart's
   * redis.existingSecret: a URL with a password stays out of the skill's namespace), if any.
   */
  redisUrl(): string | undefined {
    return this.handedRedisUrl;
  }

  /** The installation masking key, once an exchange brought it. */
  maskingKey(): string | undefined {
    return this.installationMaskingKey;
  }

  /**
   * The upstream credential to forward with, checked again when the request is about to go: a
   * request read, inspected or held for approval meanwhile may have outlived the token (revoked,
   * refused, expired) or the credential. Throws the refusal (Anthropic-shaped) rather than forward
   * without a valid token or with a dead credential; {} when the controller hands over none.
   */
  credential(): { apiKey?: string; bearer?: string } {
    const held = this.usable();
    if (!held) throw this.withoutToken();
    const expired = this.credentialExpired(held);
    if (expired) throw expired;
    const c = held.credential;
    if (!c) return {};
    return c.type === 'bearer' ? { bearer: c.value } : { apiKey: c.value };
  }

  /**
   * Follow the lock set: as soon as a lock names this token (a revocation), drop it — refused as
   * revoked until a new one arrives, whether or not the controller can be reached, and its live
   * exchanges and connections cut — and re-exchange: either the controller issues a fresh token for
   * the skill's current owner, or it says why not and the sidecar fails closed. Re-exchange too as
   * soon as the lock that had the controller refuse a token is lifted.
   */
  watchRevocations(guard: IdentityLockView): void {
    this.locks = guard;
    // A token refused before the lock set was here (the first exchange, at start-up) under a lock
    // that matches now: follow that lock, so its lifting re-exchanges at once too.
    if (this.failure?.denied && this.lockedNow()) this.deniedUnderLock = true;
    guard.onChange(() => {
      if (this.failure?.denied) {
        this.followLockWhileRefused();
        return;
      }
      const held = this.held;
      if (!held) return;
      // Look the revocation up by name: another lock (e.g. the old owner's offboarding) may match
      // this token first, and must not hide that the token itself was revoked (owner reassignment).
      const hit = guard.lockNamed(revocationLockName(held.claims.jti));
      if (hit) {
        this.revoked = { jti: held.claims.jti, reason: hit.reason };
        this.drop();
        this.opts.onEvent?.({ type: 'token_revoked', jti: held.claims.jti, reason: hit.reason });
        this.opts.log?.warn({ jti: held.claims.jti }, 'workload token revoked; refusing until a new one arrives, re-exchanging');
        void this.refreshNow();
      }
    });
  }

  refreshNow(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.inflight = this.exchange().finally(() => {
      this.inflight = undefined;
      if (this.held) this.markExchanged();
    });
    return this.inflight;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiryTimer);
    for (const hold of this.holds) clearInterval(hold);
    this.holds.clear();
  }

  /** The lock that matches this skill now (the controller's refusal had the same cause), if any. */
  private lockedNow(): { lockName: string; reason: string } | undefined {
    return this.locks?.match({ identity: this.identity(), sessionId: '' });
  }

  /**
   * Refused a token under a lock: note the lock when it arrives (the controller may refuse before
   * the feed brings it here), and re-exchange the moment no lock matches any more.
   */
  private followLockWhileRefused(): void {
    if (this.lockedNow()) {
      this.deniedUnderLock = true;
      return;
    }
    if (!this.deniedUnderLock) return;
    this.deniedUnderLock = false;
    this.lockLifted = true;
    this.retryMs = 500;
    this.opts.log?.info('the lock this skill was refused a token under was lifted; re-exchanging now');
    // An exchange already on its way may have been refused under the lock: one more after it.
    const again = this.inflight !== undefined;
    void this.refreshNow().then(() => { if (again && this.failure?.denied) void this.refreshNow(); });
  }

  /** The refusal when no valid token is held (whatever the lock set says). */
  private withoutToken(): GatewayError {
    if (this.failure?.denied && this.lockLifted) {
      return new GatewayError(codes.tokenMissing, 'overloaded_error',
        'The SkillLock that had the skillgate controller refuse this skill a workload token was lifted; the sidecar is exchanging for a new token now. Retry in a moment.',
        { status: 503, headers: { 'retry-after': '1' } });
    }
    if (this.failure?.denied) {
      return new GatewayError(codes.tokenRevoked, 'permission_error',
        `This skill's workload token was refused by the skillgate controller: ${this.failure.description}. Nothing is forwarded until that is resolved.`);
    }
    if (this.revoked) {
      return new GatewayError(codes.tokenRevoked, 'permission_error',
        `This skill's workload token was revoked by the skillgate controller: ${this.revoked.reason}. Nothing is forwarded until the controller issues a new one${this.failure ? ` (${this.failure.description})` : ''}; the sidecar keeps asking.`);
    }
    const why = this.lastIdentity ? 'its workload token expired and could not be refreshed' : 'it holds no workload token yet';
    return new GatewayError(codes.tokenMissing, 'authentication_error',
      `The skillgate sidecar cannot vouch for this skill: ${why}${this.failure ? ` (${this.failure.description})` : ''}. It retries automatically; check that the skillgate controller is reachable.`);
  }

  /** The refusal when the held upstream credential has passed its own expiry, else undefined. */
  private credentialExpired(held: Held): GatewayError | undefined {
    const expiresAt = held.credential?.expiresAt;
    if (expiresAt === undefined || this.clock() < expiresAt) return undefined;
    const ago = Math.round((this.clock() - expiresAt) / 1000);
    return new GatewayError(codes.tokenMissing, 'authentication_error',
      `The upstream credential the skillgate controller handed this sidecar expired ${ago} s ago and could not be renewed${this.failure ? ` (${this.failure.description})` : ''}; nothing is forwarded with it. The sidecar retries automatically; check that the skillgate controller and its credential provider are reachable.`);
  }

  private usable(): Held | undefined {
    if (!this.held) return undefined;
    if (this.clock() >= this.held.expiresAt) {
      this.opts.onEvent?.({ type: 'token_expired', jti: this.held.claims.jti });
      this.opts.log?.warn({ jti: this.held.claims.jti }, 'workload token expired; refusing until a refresh succeeds');
      this.drop();
      return undefined;
    }
    return this.held;
  }

  /** Let go of the held token (refused, revoked, expired): what the skill holds open is cut. */
  private drop(): void {
    if (!this.held) return;
    this.retire(this.held);
    this.held = undefined;
    clearTimeout(this.expiryTimer);
    // On a later microtask: a request asking refusal() must not run the sweep inside its own stage.
    queueMicrotask(() => { for (const l of this.lostListeners) l(); });
  }

  /**
   * Drop the token at its expiry even if no request asks meanwhile, so what the skill holds open is
   * cut then. Early by this clock (a timer may fire a little early; a test's clock may stand still):
   * looked at again later.
   */
  private armExpiry(held: Held): void {
    clearTimeout(this.expiryTimer);
    if (this.closed) return;
    const wait = (ms: number): void => {
      this.expiryTimer = setTimeout(() => {
        if (this.held !== held) return;
        if (this.usable()) wait(Math.max(10, held.expiresAt - this.clock()));
      }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      this.expiryTimer.unref();
    };
    wait(held.expiresAt - this.clock());
  }

  private async exchange(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.timer);
    let subjectToken: string;
    try {
      subjectToken = readFileSync(this.opts.tokenFile, 'utf8').trim();
    } catch (err) {
      this.fail(false, 'no_subject_token', `cannot read the projected ServiceAccount token at ${this.opts.tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return;
    }
    const form = new URLSearchParams({
      grant_type: GRANT_TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: TOKEN_TYPE_JWT,
      audience: TOKEN_AUDIENCE,
      // Until the controller has endorsed the record key: one endorsement holds for the key's life.
      ...(this.opts.recordKey && !this.endorsement ? { record_key: this.opts.recordKey.spki } : {}),
    }).toString();
    let status: number;
    let body: Record<string, unknown>;
    try {
      ({ status, body } = await this.post(form));
    } catch (err) {
      this.fail(false, 'unreachable', `controller unreachable: ${(err as Error).message}`);
      return;
    }
    // Whatever the answer, it came over TLS verified with the bundle held now: a CA bundle in it
    // (in refusals too) is the controller's.
    this.takeControllerCa(body.controller_ca);
    if (status !== 200 || typeof body.access_token !== 'string') {
      const error = typeof body.error === 'string' ? body.error : `http_${status}`;
      const description = typeof body.error_description === 'string' ? body.error_description : `the controller answered HTTP ${status}`;
      // 403 access_denied is a decision (offboarded, locked): drop the token at once. Other errors
      // keep a still-valid token until it expires (a controller outage must not cut every skill).
      this.fail(status === 403 || error === 'access_denied' || error === 'invalid_grant', error, description);
      return;
    }
    let claims: WorkloadClaims;
    try {
      claims = readWorkloadToken(body.access_token);
    } catch (err) {
      this.fail(false, 'bad_token', `the controller returned an unreadable token: ${(err as Error).message}`);
      return;
    }
    const now = this.clock();
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : claims.exp - claims.iat;
    const cred = body.upstream_credential as { type?: unknown; value?: unknown; expires_in?: unknown } | undefined;
    const credentialOk = !!cred && typeof cred.value === 'string' && (cred.type === 'api_key' || cred.type === 'bearer');
    // A credential that expires (federation) is held no longer than it lives, whatever the token's life.
    const credentialLifeMs = credentialOk && typeof cred.expires_in === 'number' && cred.expires_in >= 0 ? cred.expires_in * 1000 : undefined;
    this.retire(this.held);
    this.held = {
      token: body.access_token,
      claims,
      identity: identityOf(claims),
      expiresAt: now + expiresIn * 1000,
      ...(credentialOk ? { credential: { type: cred.type as 'api_key' | 'bearer', value: cred.value as string, ...(credentialLifeMs !== undefined ? { expiresAt: now + credentialLifeMs } : {}) } } : {}),
    };
    this.lastIdentity = this.held.identity;
    this.revoked = undefined;
    this.armExpiry(this.held);
    this.failure = undefined;
    this.deniedUnderLock = false;
    this.lockLifted = false;
    const fraction = this.opts.refreshFraction ?? 0.8;
    const credentialRefreshMs = credentialLifeMs === undefined ? Infinity : credentialLifeMs * fraction;
    const deadOnArrival = credentialRefreshMs < MIN_CREDENTIAL_REFRESH_MS;
    if (!deadOnArrival) this.retryMs = 500;
    const maskingKey = body.masking_key;
    if (typeof maskingKey === 'string' && Buffer.byteLength(maskingKey, 'utf8') >= MASKING_KEY_MIN_BYTES) this.installationMaskingKey = maskingKey;
    this.takeRedisUrl(body.redis_url);
    const endorsement = body.record_key_endorsement;
    if (this.opts.recordKey && !this.endorsement && typeof endorsement === 'string') {
      this.endorsement = endorsement;
      this.opts.recordKey.onEndorsed(endorsement);
    } else if (this.opts.recordKey && !this.endorsement && !this.warnedUnendorsed) {
      this.warnedUnendorsed = true;
      this.opts.log?.warn('the controller did not endorse the record key (an older controller?): this sidecar\'s checkpoints will not verify with `skillgate sessions verify --trust-jwks`');
    }
    this.opts.onEvent?.({ type: 'token_issued', jti: claims.jti, expiresAt: this.held.expiresAt });
    this.opts.log?.info({ jti: claims.jti, expiresIn, ...(credentialLifeMs !== undefined ? { credentialExpiresIn: credentialLifeMs / 1000 } : {}), skill: claims.skill }, 'workload token obtained');
    if (deadOnArrival) {
      // Asking again at once would only get the same: back off as after a failed exchange.
      this.opts.log?.warn({ credentialExpiresIn: (credentialLifeMs ?? 0) / 1000 }, 'the controller handed over an upstream credential that has (nearly) expired; retrying');
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs ?? 15_000);
      this.schedule(delay);
      return;
    }
    this.schedule(Math.min(expiresIn * 1000 * fraction, credentialRefreshMs));
  }

  /**
   * The bundle the controller's certificate chains to, as the controller (verified with the bundle
   * held so far) handed it over: trusted from the next exchange on, and kept for a restart.
   */
  private takeControllerCa(pem: unknown): void {
    if (typeof pem !== 'string' || !certificateBlocks(pem) || this.ca?.toString('utf8') === pem) return;
    this.ca = Buffer.from(pem);
    if (!this.opts.caCacheFile) return;
    try {
      const tmp = `${this.opts.caCacheFile}.tmp`;
      writeFileSync(tmp, pem, { mode: 0o644 });
      renameSync(tmp, this.opts.caCacheFile);
    } catch (err) {
      this.opts.log?.warn({ file: this.opts.caCacheFile, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'cannot keep the controller\'s CA bundle for a restart');
    }
  }

  /** The first Redis URL handed over is the one used; the URL itself is never logged (it may hold a password). */
  private takeRedisUrl(url: unknown): void {
    if (url === undefined) return;
    if (typeof url !== 'string' || !/^rediss?:\/\/[^/]/.test(url)) {
      this.opts.log?.warn('the controller handed over a Redis URL that is not redis:// or rediss://; ignored');
      return;
    }
    if (this.handedRedisUrl === undefined) this.handedRedisUrl = url;
    else if (url !== this.handedRedisUrl && !this.warnedRedisUrlChange) {
      this.warnedRedisUrlChange = true;
      this.opts.log?.warn('the controller now hands over a different Redis URL (a new password?); this sidecar keeps the one it connected with until its pod restarts');
    }
  }

  private fail(denied: boolean, error: string, description: string): void {
    this.failure = { denied, error, description };
    this.lockLifted = false;
    if (denied) {
      this.drop();
      this.deniedUnderLock = this.lockedNow() !== undefined;
    }
    this.opts.onEvent?.({ type: 'token_refused', error, description });
    this.opts.log?.warn({ error, reason: description }, denied ? 'workload token refused: failing closed' : 'workload token exchange failed; retrying');
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs ?? 15_000);
    this.schedule(delay);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refreshNow(), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    this.timer.unref();
  }

  private post(form: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const url = new URL('/token', this.opts.controllerUrl);
    const mod = url.protocol === 'https:' ? https() : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form), accept: 'application/json' },
        timeout: this.opts.requestTimeoutMs ?? 10_000,
        // A connection of its own each time (one exchange every few minutes): no TLS session is
        // resumed, so the controller's certificate is checked against the bundle held now.
        agent: false,
        ...(this.ca ? { ca: this.ca } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            // non-JSON error page: status says enough
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(form);
    });
  }
}

/** The CA bundle kept by an earlier run of this sidecar, if any. */
function cachedCa(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    const pem = readFileSync(file, 'utf8');
    return certificateBlocks(pem) ? Buffer.from(pem) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A ClusterIdentity from the injected container's environment, or undefined when no controller is
 * configured (local mode). Reads: SKILLGATE_CONTROLLER_URL, SKILLGATE_TOKEN_FILE (default
 * /var/run/secrets/skillgate/token), SKILLGATE_CONTROLLER_CA (PEM) or SKILLGATE_CONTROLLER_CA_FILE,
 * SKILLGATE_CONTROLLER_CA_CACHE, SKILLGATE_POD_NAME,
 * SKILLGATE_POD_NAMESPACE, SKILLGATE_POD_UID, SKILLGATE_SERVICE_ACCOUNT, SKILLGATE_SKILL, SKILLGATE_OWNER.
 */
export function clusterIdentityFromEnv(env: NodeJS.ProcessEnv, extra: Pick<ClusterIdentityOptions, 'log' | 'onEvent' | 'clock' | 'recordKey' | 'needsMaskingKey'> = {}): ClusterIdentity | undefined {
  if (!env.SKILLGATE_CONTROLLER_URL) return undefined;
  return new ClusterIdentity({
    controllerUrl: env.SKILLGATE_CONTROLLER_URL,
    tokenFile: env.SKILLGATE_TOKEN_FILE ?? '/var/run/secrets/skillgate/token',
    ...(env.SKILLGATE_CONTROLLER_CA ? { caPem: env.SKILLGATE_CONTROLLER_CA } : {}),
    ...(env.SKILLGATE_CONTROLLER_CA_FILE ? { caFile: env.SKILLGATE_CONTROLLER_CA_FILE } : {}),
    ...(env.SKILLGATE_CONTROLLER_CA_CACHE ? { caCacheFile: env.SKILLGATE_CONTROLLER_CA_CACHE } : {}),
    fallback: {
      namespace: env.SKILLGATE_POD_NAMESPACE ?? 'unknown',
      serviceAccount: env.SKILLGATE_SERVICE_ACCOUNT ?? 'default',
      pod: env.SKILLGATE_POD_NAME ?? 'unknown',
      ...(env.SKILLGATE_POD_UID ? { podUid: env.SKILLGATE_POD_UID } : {}),
      skill: env.SKILLGATE_SKILL ?? 'unknown',
      owner: env.SKILLGATE_OWNER ?? 'unknown',
    },
    ...extra,
  });
}
