// ClusterIdentity against a stand-in token endpoint. The real controller needs a kube-apiserver and
// is exercised end to end in e2e/controller; here a small HTTP server that answers like it (RFC 8693
// shapes, tokens signed by the real WorkloadTokenIssuer) lets us drive each failure precisely.
import http from 'node:http';
import https from 'node:https';
import { execFile, execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SkillIdentity } from '@skillgate/api';
import { WorkloadTokenIssuer, generateSigningKey, revocationLockName } from '@skillgate/identity';
import { codes } from '@skillgate/wire';
import { ClusterIdentity, clusterIdentityFromEnv, type IdentityEvent, type IdentityLockView } from '../src/cluster/identity.js';
import type { LockGuard, LockHit, LockSubject } from '../src/ports/index.js';
import { createLogger, type Logger } from '../src/log.js';
import { startSidecar } from '../src/index.js';

const identity: SkillIdentity = { namespace: 'team-a', serviceAccount: 'bot', pod: 'bot-1', podUid: 'u1', skill: 'summarize', owner: 'alice@example.com' };

type Answer = { status: number; body: Record<string, unknown> };

async function standInController(answer: (form: URLSearchParams) => Promise<Answer>) {
  const forms: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => { text += c; });
    req.on('end', () => {
      const form = new URLSearchParams(text);
      forms.push(form);
      void answer(form).then(({ status, body }) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, forms, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * A skill SkillLock "incident-4711" can lock: a stand-in controller that refuses its token while it
 * is locked (as the real one does) and grants one otherwise, and the lock set as the sidecar's guard
 * holds it (`counted`: what goes to the SkillLock's status). setLocked tells the guard's listeners.
 */
async function lockableSkill(issuer: WorkloadTokenIssuer, initiallyLocked: boolean) {
  let locked = initiallyLocked;
  let onGranted: (() => void) | undefined;
  const ctl = await standInController(async () => {
    if (locked) return { status: 403, body: { error: 'access_denied', error_description: 'skill summarize is locked by SkillLock "incident-4711": exfiltration' } };
    const t = await issuer.issue(identity, { ttlSeconds: 600 });
    onGranted?.();
    return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, upstream_credential: { type: 'api_key', value: 'sk-from-controller' } } };
  });
  const listeners: Array<() => void> = [];
  const counted: string[] = [];
  const hit: LockHit = { lockName: 'incident-4711', reason: 'exfiltration' };
  const guard: LockGuard & IdentityLockView = {
    match: (subject: LockSubject) => (locked && subject.identity.skill === identity.skill ? hit : undefined),
    onChange: (l) => { listeners.push(l); },
    refusal: () => undefined,
    count: (h, what) => { counted.push(`${h.lockName}:${what}`); },
    lockNamed: () => undefined,
  };
  return {
    ctl, guard, counted,
    setLocked(on: boolean): void { locked = on; for (const l of listeners) l(); },
    /** Resolves at the next token the controller grants. */
    nextGrant: (): Promise<void> => new Promise<void>((r) => { onGranted = r; }),
  };
}

/** Resolves with `p`, or fails naming `what` after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}

function tokenFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-identity-'));
  const file = join(dir, 'token');
  writeFileSync(file, 'projected-sa-token\n');
  return file;
}

describe('ClusterIdentity', () => {
  let now = 1_800_000_000_000;
  const clock = () => now;
  let issuer: WorkloadTokenIssuer;
  beforeAll(async () => { issuer = new WorkloadTokenIssuer(await generateSigningKey(), 'https://controller', clock); });

  test('exchanges the projected token in RFC 8693 form and supplies identity, jti and the upstream credential', async () => {
    const ctl = await standInController(async () => {
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, upstream_credential: { type: 'api_key', value: 'sk-from-controller' } } };
    });
    const events: IdentityEvent[] = [];
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: { ...identity, skill: 'unknown' }, clock, onEvent: (e) => events.push(e) });
    expect(id.refusal()?.code).toBe(codes.tokenMissing);
    await id.start();
    const form = ctl.forms[0]!;
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(form.get('subject_token')).toBe('projected-sa-token');
    expect(form.get('subject_token_type')).toBe('urn:ietf:params:oauth:token-type:jwt');
    expect(form.get('audience')).toBe('skillgate');
    expect(id.refusal()).toBeUndefined();
    expect(id.identity()).toEqual(identity);
    expect(id.tokenId()).toMatch(/[0-9a-f-]{36}/);
    expect(id.credential()).toEqual({ apiKey: 'sk-from-controller' });
    expect(events.map((e) => e.type)).toEqual(['token_issued']);

    // Past expiry with no refresh: fail closed with 401, and nothing to forward with.
    now += 601_000;
    expect(id.refusal()?.status).toBe(401);
    expect(() => id.credential()).toThrow(expect.objectContaining({ code: codes.tokenMissing, status: 401, message: expect.stringMatching(/workload token expired/) }));
    id.close();
    await ctl.close();
  });

  test('takes the installation masking key from the exchange, and refuses to serve without one when it needs it', async () => {
    let maskingKey: string | undefined;
    const ctl = await standInController(async () => {
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, ...(maskingKey ? { masking_key: maskingKey } : {}) } };
    });
    const needs = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock, needsMaskingKey: true });
    await needs.start();
    // A token but no key (an older controller, or one with no key configured): nothing is served.
    expect(needs.maskingKey()).toBeUndefined();
    expect(needs.refusal()).toMatchObject({ status: 401, code: codes.tokenMissing, message: expect.stringMatching(/no installation masking key/) });
    // One with the key set on the sidecar itself does not need the controller's.
    const own = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    await own.start();
    expect(own.refusal()).toBeUndefined();
    // The next exchange brings it; a key too short to be one is not taken.
    maskingKey = 'short';
    await needs.refreshNow();
    expect(needs.maskingKey()).toBeUndefined();
    maskingKey = 'k7Qe0fVw2m9XyZpL3aBcDeFgHiJkLmNoPqRsTuVwXyZ';
    await needs.refreshNow();
    expect(needs.maskingKey()).toBe(maskingKey);
    expect(needs.refusal()).toBeUndefined();
    needs.close();
    own.close();
    await ctl.close();
  });

  test('sends the record key until the controller has endorsed it, and hands that endorsement on once', async () => {
    let endorsement = 'endorsement-1';
    const ctl = await standInController(async () => {
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, ...(endorse ? { record_key_endorsement: endorsement } : {}) } };
    });
    let endorse = false;
    const endorsed: string[] = [];
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock, recordKey: { spki: 'MCowBQYDK2VwAyEA-key', onEndorsed: (e) => endorsed.push(e) } });
    const sentKey = () => ctl.forms.map((f) => f.get('record_key'));
    // A controller that does not endorse yet (an older one being upgraded): asked again next time.
    await id.start();
    expect(sentKey()).toEqual(['MCowBQYDK2VwAyEA-key']);
    endorse = true;
    await id.refreshNow();
    endorsement = 'endorsement-2';
    await id.refreshNow();
    expect(sentKey()).toEqual(['MCowBQYDK2VwAyEA-key', 'MCowBQYDK2VwAyEA-key', null]);
    expect(endorsed).toEqual(['endorsement-1']);
    id.close();
    await ctl.close();

    // A controller that endorses nothing (an older one): said once in the log, nothing handed on.
    const old = await standInController(async () => {
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600 } };
    });
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (...args: unknown[]) => void warnings.push(String(args.at(-1))), debug: () => undefined } as unknown as Logger;
    const quiet = new ClusterIdentity({ controllerUrl: old.url, tokenFile: tokenFile(), fallback: identity, clock, log, recordKey: { spki: 'MCowBQYDK2VwAyEA-key', onEndorsed: (e) => endorsed.push(e) } });
    await quiet.start();
    await quiet.refreshNow();
    expect(warnings.filter((w) => w.includes('did not endorse the record key'))).toHaveLength(1);
    expect(endorsed).toHaveLength(1);
    quiet.close();
    await old.close();
  });

  test('takes the Redis URL the controller hands over, once an exchange succeeds, and never logs it', async () => {
    let answer: 'down' | 'bad' | 'url' | 'other' = 'down';
    const url = 'redis://sidecars:s3cret-pass@redis.skillgate-system.svc:6379/2';
    const ctl = await standInController(async () => {
      if (answer === 'down') return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'TokenReview failed' } };
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      const redisUrl = answer === 'bad' ? 'http://not-redis' : answer === 'other' ? 'redis://sidecars:new-pass@redis:6379' : url;
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, redis_url: redisUrl } };
    });
    const lines: string[] = [];
    const log = { info: (...a: unknown[]) => lines.push(JSON.stringify(a)), warn: (...a: unknown[]) => lines.push(JSON.stringify(a)) } as unknown as Logger;
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock, log, maxRetryMs: 20 });
    await id.start();
    // The first exchange failed: not exchanged yet, no URL; the identity retries on its own.
    let exchanged = false;
    void id.whenExchanged().then(() => { exchanged = true; });
    await new Promise((r) => setTimeout(r, 30));
    expect([exchanged, id.redisUrl()]).toEqual([false, undefined]);
    answer = 'bad';
    await id.whenExchanged();
    // A token came, but with no usable URL: none is taken.
    expect(id.redisUrl()).toBeUndefined();
    answer = 'url';
    await id.refreshNow();
    expect(id.redisUrl()).toBe(url);
    // A later, different URL is not switched to mid-life (the connections were made with the first).
    answer = 'other';
    await id.refreshNow();
    expect(id.redisUrl()).toBe(url);
    expect(lines.join('\n')).toMatch(/different Redis URL/);
    expect(lines.join('\n')).not.toMatch(/s3cret-pass|new-pass/);
    id.close();
    await ctl.close();
  });

  test('a process waiting for its first token stays up through failed exchanges until one succeeds (nothing else holds it yet)', async () => {
    let refusals = 2;
    const ctl = await standInController(async () => {
      if (refusals-- > 0) return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'controller starting' } };
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, redis_url: 'redis://127.0.0.1:6379/0' } };
    });
    const module = new URL('../src/cluster/identity.js', import.meta.url).href;
    const script = `
      const { ClusterIdentity } = await import(${JSON.stringify(module)});
      const id = new ClusterIdentity({ controllerUrl: ${JSON.stringify(ctl.url)}, tokenFile: ${JSON.stringify(tokenFile())}, fallback: ${JSON.stringify(identity)} });
      await id.start();
      await id.whenExchanged();
      console.log('exchanged', id.redisUrl());
      id.close();`;
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, out) => resolve({ stdout: out, code: err ? (err as { code?: number }).code ?? 1 : 0 }));
    });
    expect([code, stdout.trim()]).toEqual([0, 'exchanged redis://127.0.0.1:6379/0']);
    expect(refusals).toBe(-1);
    await ctl.close();
  });

  test('trusts the CA bundle the controller hands over from the next exchange on, keeps it for a restart, and so follows a CA rotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-controller-ca-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    for (const ca of ['old', 'new']) {
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}-ca.key`, '-out', `${ca}-ca.crt`, '-days', '1', '-subj', `/CN=${ca}-ca`);
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.csr`, '-subj', '/CN=controller');
      openssl('x509', '-req', '-in', `${ca}.csr`, '-CA', `${ca}-ca.crt`, '-CAkey', `${ca}-ca.key`, '-CAcreateserial', '-out', `${ca}.crt`, '-days', '1', '-extfile', 'san.ext');
    }
    let handed = pem('old-ca.crt') + pem('new-ca.crt'); // a rotation under way: both CAs in the bundle
    let refuse = false;
    const server = https.createServer({ cert: pem('old.crt'), key: pem('old.key') }, (req, res) => {
      req.resume();
      if (refuse) {
        req.on('end', () => {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'access_denied', error_description: 'skill summarize is locked', controller_ca: handed }));
        });
        return;
      }
      req.on('end', () => void issuer.issue(identity, { ttlSeconds: 600 }).then((t) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, controller_ca: handed }));
      }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const controllerUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cache = join(dir, 'controller-ca.pem');
    const injected = pem('old-ca.crt');
    const id = new ClusterIdentity({ controllerUrl, tokenFile: tokenFile(), fallback: identity, clock, caPem: injected, caCacheFile: cache });
    await id.start();
    expect(id.refusal()).toBeUndefined();
    expect(readFileSync(cache, 'utf8')).toBe(handed);

    // A skill locked while the rotation goes on still learns the bundle from its refusals.
    const locked = new ClusterIdentity({ controllerUrl, tokenFile: tokenFile(), fallback: identity, clock, caPem: injected, caCacheFile: join(dir, 'locked-ca.pem') });
    refuse = true;
    await locked.start();
    expect(locked.refusal()?.message).toMatch(/locked/);
    expect(readFileSync(join(dir, 'locked-ca.pem'), 'utf8')).toBe(handed);
    refuse = false;

    // The new CA signs the controller's certificate now, and the old one leaves the bundle.
    server.setSecureContext({ cert: pem('new.crt'), key: pem('new.key') });
    handed = pem('new-ca.crt');
    await id.refreshNow();
    expect(id.refusal()).toBeUndefined();
    expect(readFileSync(cache, 'utf8')).toBe(handed);
    // Unlocked after the promotion: it verifies the controller with what it learnt while refused.
    await locked.refreshNow();
    expect(locked.refusal()).toBeUndefined();

    // A sidecar restarted in the same pod (its injected CA is the old one) trusts the kept bundle;
    // one without it cannot verify the controller.
    const restarted = new ClusterIdentity({ controllerUrl, tokenFile: tokenFile(), fallback: identity, clock, caPem: injected, caCacheFile: cache });
    await restarted.start();
    expect(restarted.refusal()).toBeUndefined();
    const fresh = new ClusterIdentity({ controllerUrl, tokenFile: tokenFile(), fallback: identity, clock, caPem: injected, caCacheFile: join(dir, 'none.pem') });
    await fresh.start();
    expect(fresh.refusal()?.message).toMatch(/controller unreachable: .*certificate/);

    // A bundle with anything besides certificates is not taken.
    handed = `${pem('new-ca.crt')}${pem('new.key')}`;
    await id.refreshNow();
    expect(readFileSync(cache, 'utf8')).toBe(pem('new-ca.crt'));
    for (const i of [id, restarted, fresh, locked]) i.close();
    await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  });

  test('a 403 access_denied from the controller fails closed with a permission_error that says why', async () => {
    const ctl = await standInController(async () => ({ status: 403, body: { error: 'access_denied', error_description: 'owner alice@example.com of skill summarize is offboarded' } }));
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    await id.start();
    const err = id.refusal();
    expect(err?.code).toBe(codes.tokenRevoked);
    expect(err?.status).toBe(403);
    expect(err?.message).toContain('offboarded');
    id.close();
    await ctl.close();
  });

  test('an unreachable controller leaves a 401 that says the sidecar retries', async () => {
    const id = new ClusterIdentity({ controllerUrl: 'http://127.0.0.1:1', tokenFile: tokenFile(), fallback: identity, clock });
    await id.start();
    expect(id.refusal()?.status).toBe(401);
    expect(id.refusal()?.message).toMatch(/retries automatically/);
    id.close();
  });

  test('a revocation lock naming the current token triggers an immediate re-exchange, even when an owner lock matches first', async () => {
    let n = 0;
    const ctl = await standInController(async () => {
      n++;
      if (n > 1) return { status: 403, body: { error: 'access_denied', error_description: 'owner offboarded' } };
      const t = await issuer.issue(identity);
      return { status: 200, body: { access_token: t.token, token_type: 'N_A', expires_in: 600 } };
    });
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    await id.start();
    const jti = id.tokenId()!;
    const listeners: Array<() => void> = [];
    let revoked = false;
    // The old owner's offboarding lock matches the token's identity before the revocation does
    // (reassignment): the revocation must still be seen.
    const guard: LockGuard & { lockNamed(name: string): { reason: string } | undefined } = {
      match: () => (revoked ? { lockName: 'offboard-previous-owner', reason: 'owner offboarded' } : undefined),
      onChange: (l) => { listeners.push(l); },
      refusal: () => undefined,
      lockNamed: (name) => (revoked && name === revocationLockName(jti) ? { reason: 'owner reassigned' } : undefined),
    };
    id.watchRevocations(guard);
    revoked = true;
    for (const l of listeners) l();
    await id.refreshNow();
    expect(ctl.forms.length).toBe(2);
    // Refused while the owner's lock matches: the admit stage answers SG_LOCKED; nothing can go upstream.
    expect(id.refusal()).toBeUndefined();
    expect(() => id.credential()).toThrow(expect.objectContaining({ code: codes.tokenRevoked, status: 403 }));
    id.close();
    await ctl.close();
  });

  test('remembers the tokens it held before its current one (refreshed, refused) for an hour past their expiry, for locks on them to bind the pod', async () => {
    let refuse = false;
    const ctl = await standInController(async () => {
      if (refuse) return { status: 403, body: { error: 'access_denied', error_description: 'locked' } };
      const t = await issuer.issue(identity);
      return { status: 200, body: { access_token: t.token, token_type: 'N_A', expires_in: 600 } };
    });
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    await id.start();
    const first = id.tokenId()!;
    expect(id.formerTokenIds()).toEqual([]);
    await id.refreshNow();
    const second = id.tokenId()!;
    expect(second).not.toBe(first);
    expect(id.formerTokenIds()).toEqual([first]);
    refuse = true;
    await id.refreshNow();
    expect(id.tokenId()).toBeUndefined();
    expect(id.formerTokenIds()).toEqual([first, second]);
    const start = now;
    now += 600_000 + 60 * 60 * 1000 + 1; // an hour past both tokens' expiry
    expect(id.formerTokenIds()).toEqual([]);
    now = start;
    id.close();
    await ctl.close();
  });

  test('tells the sidecar to cut what the skill holds open when its token is refused or expires, and not while the controller is merely unreachable or only the credential ran out', async () => {
    let answer: 'grant' | 'unavailable' | 'refuse' = 'grant';
    let credentialLifeS: number | undefined;
    const ctl = await standInController(async () => {
      if (answer === 'unavailable') return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'the credential broker is down' } };
      if (answer === 'refuse') return { status: 403, body: { error: 'access_denied', error_description: 'owner alice@example.com of skill summarize is offboarded' } };
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, token_type: 'N_A', expires_in: 600, upstream_credential: { type: 'api_key', value: 'sk', ...(credentialLifeS ? { expires_in: credentialLifeS } : {}) } } };
    });
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    let told = 0;
    id.onStandingLost(() => told++);
    const settled = () => new Promise<void>((r) => setImmediate(r)); // listeners are told on a later microtask
    try {
      await id.start();
      expect(id.standingLost()).toBeUndefined();

      // The controller cannot be asked: the valid token is kept, and so is what is open.
      answer = 'unavailable';
      await id.refreshNow();
      await settled();
      expect([told, id.standingLost(), id.refusal()]).toEqual([0, undefined, undefined]);

      // Expired with no refresh: cut. (Looked at here by this test's clock; the timer that drops it at
      // its expiry with no request asking runs in real time in egress-locks.test.ts.)
      now += 601_000;
      expect(id.standingLost()).toMatchObject({ code: codes.tokenMissing, status: 401, message: expect.stringMatching(/workload token expired/) });
      await settled();
      expect(told).toBe(1);

      // A credential past its own expiry refuses new requests only.
      answer = 'grant';
      credentialLifeS = 2;
      await id.refreshNow();
      answer = 'unavailable';
      now += 5000;
      expect(id.refusal()).toMatchObject({ code: codes.tokenMissing, message: expect.stringMatching(/upstream credential .* expired/) });
      expect(id.standingLost()).toBeUndefined();
      await settled();
      expect(told).toBe(1);

      // Refused (the owner offboarded): cut at once.
      answer = 'refuse';
      await id.refreshNow();
      await settled();
      expect(told).toBe(2);
      expect(id.standingLost()).toMatchObject({ code: codes.tokenRevoked, status: 403, message: expect.stringContaining('offboarded') });
    } finally {
      id.close();
      await ctl.close();
    }
  });

  test('a revoked token stays refused as revoked until a new one arrives, with the controller unreachable and after the revocation lock lapsed', async () => {
    let reachable = true;
    const ctl = await standInController(async () => {
      if (!reachable) return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'the controller is restarting' } };
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      return { status: 200, body: { access_token: t.token, token_type: 'N_A', expires_in: 600 } };
    });
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    try {
      await id.start();
      const jti = id.tokenId()!;
      // The revocation lock lapses at the token's expiry by the controller's clock: here, in 2 s.
      const lapses = now + 2000;
      const listeners: Array<() => void> = [];
      const guard: IdentityLockView = {
        match: (s) => (s.tokenId === jti && now < lapses ? { lockName: revocationLockName(jti), reason: 'owner reassigned' } : undefined),
        onChange: (l) => { listeners.push(l); },
        lockNamed: (name) => (name === revocationLockName(jti) && now < lapses ? { reason: 'owner reassigned' } : undefined),
      };
      id.watchRevocations(guard);
      let told = 0;
      id.onStandingLost(() => told++);
      reachable = false;
      for (const l of listeners) l();
      await id.refreshNow(); // the re-exchange the revocation started: it fails
      await new Promise<void>((r) => setImmediate(r));
      expect(told).toBe(1);
      const revoked = { code: codes.tokenRevoked, status: 403, message: expect.stringMatching(/revoked by the skillgate controller: owner reassigned/) };
      expect(id.refusal()).toMatchObject(revoked);

      now += 3000; // the lock has lapsed; this sidecar's own view of the token has not
      expect(guard.lockNamed(revocationLockName(jti))).toBeUndefined();
      expect(id.refusal()).toMatchObject(revoked);
      expect(id.standingLost()).toMatchObject(revoked);
      expect(() => id.credential()).toThrow(expect.objectContaining(revoked));
      expect(id.tokenId()).toBeUndefined();

      reachable = true;
      await id.refreshNow();
      expect(id.tokenId()).not.toBe(jti);
      expect(id.refusal()).toBeUndefined();
    } finally {
      id.close();
      await ctl.close();
    }
  });

  test('refreshes at 80 % of the upstream credential\'s own life when it ends before the token\'s, and never forwards a credential past its expiry', async () => {
    // A federated credential (FederatedCredentialProvider) living two seconds, under a 10-minute token.
    let minted = 0;
    let down = false;
    let onSecond!: () => void;
    const second = new Promise<void>((r) => { onSecond = r; });
    const ctl = await standInController(async () => {
      if (down) return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'the credential broker is down' } };
      const t = await issuer.issue(identity, { ttlSeconds: 600 });
      if (++minted === 2) { down = true; onSecond(); }
      return { status: 200, body: { access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 600, upstream_credential: { type: 'bearer', value: `fed-${minted}`, expires_in: 2 } } };
    });
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    await id.start();
    expect(id.credential()).toEqual({ bearer: 'fed-1' });
    // The refresh comes at 80 % of the credential's two seconds, not of the token's ten minutes.
    await within(second, 5000, 'a refresh before the upstream credential expires');
    await id.refreshNow(); // the exchange answered above, taken in (or one more: refused, keeping it)
    expect(id.credential()).toEqual({ bearer: 'fed-2' });
    // Past the credential's expiry with no new one (the broker is down): refused, never forwarded.
    now += 5000;
    const refusal = id.refusal();
    expect(refusal).toMatchObject({ code: codes.tokenMissing, status: 401, type: 'authentication_error', message: expect.stringMatching(/upstream credential the skillgate controller handed this sidecar expired \d+ s ago/) });
    expect(refusal!.body('req_1')).toMatchObject({ type: 'error', error: { type: 'authentication_error' }, request_id: 'req_1' });
    expect(() => id.credential()).toThrow(expect.objectContaining({ code: codes.tokenMissing }));
    id.close();
    await ctl.close();
  });

  test('refused a token because the skill is locked, it answers SG_LOCKED and counts it while the lock holds, and works again as soon as the lock is lifted', async () => {
    const skill = await lockableSkill(issuer, false);
    const { ctl, guard, counted } = skill;
    let forwarded = 0;
    const upstream = http.createServer((req, res) => { req.resume(); forwarded++; res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"type":"message","content":[]}'); });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    await id.start();
    id.watchRevocations(guard); // as wiring.ts does
    const sidecar = await startSidecar({
      upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), locks: guard, identity: id, credential: id });
    const ask = () => new Promise<string>((resolve, reject) => {
      const req = http.request(new URL('/v1/messages', sidecar.claudeUrl), { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(`${res.statusCode} ${String(res.headers['x-skillgate-error'] ?? '')}`.trim()));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }));
    });
    try {
      expect(await ask()).toBe('200');
      skill.setLocked(true);
      expect(await ask()).toBe('403 SG_LOCKED');
      // The token's refresh (or a revocation) meets the lock at the controller, and its retries too.
      for (let i = 0; i < 4; i++) await id.refreshNow();
      expect(await ask()).toBe('403 SG_LOCKED');
      expect(counted).toEqual(['incident-4711:requestsRefused', 'incident-4711:requestsRefused']);
      expect(forwarded).toBe(1);
      // Lifted: a new token at once, not after the retry backoff (8 s by now).
      const granted = skill.nextGrant();
      skill.setLocked(false);
      await within(granted, 2000, 'a token exchange once the lock was lifted');
      await within(id.refreshNow(), 2000, 'the exchange to complete');
      expect(await ask()).toBe('200');
      expect(forwarded).toBe(2);
    } finally {
      await sidecar.close();
      id.close();
      await ctl.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  test('refused a token at start-up under a lock, before the lock set was watched, it re-exchanges as soon as the lock is lifted', async () => {
    const skill = await lockableSkill(issuer, true);
    const { ctl, guard } = skill;
    const id = new ClusterIdentity({ controllerUrl: ctl.url, tokenFile: tokenFile(), fallback: identity, clock });
    try {
      await id.start(); // refused: the skill is locked (the lock set is synced, then watched: wiring.ts's order)
      for (let i = 0; i < 4; i++) await id.refreshNow(); // retries refused too: the backoff is at 8 s
      expect(() => id.credential()).toThrow(expect.objectContaining({ code: codes.tokenRevoked }));
      id.watchRevocations(guard);
      const granted = skill.nextGrant();
      skill.setLocked(false);
      await within(granted, 2000, 'a token exchange once the lock was lifted');
      await within(id.refreshNow(), 2000, 'the exchange to complete');
      expect(id.credential()).toEqual({ apiKey: 'sk-from-controller' });
    } finally {
      id.close();
      await ctl.close();
    }
  });

  test('the env factory reads the injected variables and stays off without a controller URL', () => {
    expect(clusterIdentityFromEnv({})).toBeUndefined();
    const id = clusterIdentityFromEnv({ SKILLGATE_CONTROLLER_URL: 'http://127.0.0.1:1', SKILLGATE_POD_NAME: 'p', SKILLGATE_POD_NAMESPACE: 'n', SKILLGATE_SKILL: 's', SKILLGATE_OWNER: 'o@example.com', SKILLGATE_SERVICE_ACCOUNT: 'sa' })!;
    expect(id.identity()).toEqual({ namespace: 'n', serviceAccount: 'sa', pod: 'p', skill: 's', owner: 'o@example.com' });
    id.close();
  });
});
