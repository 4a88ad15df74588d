// A skill that may not act has no way out through egress either: while a lock matches it (its owner
// offboarded, a responder's SkillLock), its workload token is refused, or the lock feed cannot be
// vouched for, the egress proxy (plain HTTP, CONNECT, transparent TLS) and the DNS guard refuse it
// with the Claude path's own error, journaled and counted; and a lock cuts the egress connections
// it already holds open, as it cuts its Claude streams. The locks and the identity of the first part
// are in-process ports; the destinations are real servers on loopback.
// The second part: what the skill holds open (a CONNECT tunnel, an SSE stream) is cut when it loses
// its standing with no lock reaching the sidecar — its token refused, expired or revoked, the lock
// feed lost past its bound — and kept while the controller is merely unreachable. There the identity
// is the real ClusterIdentity against a stand-in token endpoint (the real controller needs a
// kube-apiserver: e2e), and the locks the real RedisLockGuard, on real Redis through a proxy the
// test can stop, fed by the controller's LockFeedPublisher.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisProxy } from '@skillgate/resp/testing';
import { WorkloadTokenIssuer, generateSigningKey, revocationLock, revocationLockName } from '@skillgate/identity';
import { LockFeedPublisher } from '@skillgate/identity/lock-feed-publisher';
import { GatewayError, codes } from '@skillgate/wire';
import { startSidecar, type EgressAttempt, type IdentitySource, type LockGuard, type LockHit, type LockSubject, type Sidecar } from '../src/index.js';
import { ClusterIdentity, type IdentityEvent } from '../src/cluster/identity.js';
import { RedisLockGuard } from '../src/cluster/locks.js';
import { createLogger } from '../src/log.js';
import { logJournal } from '../src/ports/journal.js';
import { endlessSse } from './upstream-double.js';

const IDENTITY = { namespace: 'team-a', serviceAccount: 'sa', pod: 'triage-7f9', skill: 'invoice-triage', owner: 'contractor@example.com' };

/** Locks by skill name, plus what they were counted for (a SkillLock's status counters). */
class InProcessLocks implements LockGuard {
  private readonly skills = new Map<string, LockHit>();
  private readonly listeners: Array<() => void> = [];
  feedRefusal: GatewayError | undefined;
  readonly counted: string[] = [];
  lock(skill: string, hit: LockHit): void {
    this.skills.set(skill, hit);
    this.listeners.forEach((l) => l());
  }
  unlockAll(): void {
    this.skills.clear();
    this.listeners.forEach((l) => l());
  }
  match(subject: LockSubject): LockHit | undefined {
    return this.skills.get(subject.identity.skill);
  }
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  refusal(): GatewayError | undefined {
    return this.feedRefusal;
  }
  count(hit: LockHit, what: 'requestsRefused' | 'streamsKilled'): void {
    this.counted.push(`${hit.lockName}:${what}`);
  }
}

const OFFBOARDED: LockHit = { lockName: 'offboard-contractor', reason: 'owner contractor@example.com was offboarded' };

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

describe('egress of a skill that may not act', () => {
  let target: http.Server;
  let targetPort: number;
  let echo: net.Server;
  let echoPort: number;
  let sidecar: Sidecar;
  const locks = new InProcessLocks();
  let tokenRefusal: GatewayError | undefined;
  const identity: IdentitySource = { identity: () => IDENTITY, refusal: () => tokenRefusal, tokenId: () => 'jti-1' };
  const attempts: EgressAttempt[] = [];
  /** Requests the target received and has not answered yet ('/hold' is answered only when told). */
  const held: http.ServerResponse[] = [];

  beforeAll(async () => {
    target = http.createServer((req, res) => {
      if (req.url === '/hold') {
        held.push(res);
        return;
      }
      res.end('customer records');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetPort = (target.address() as AddressInfo).port;
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
    sidecar = await startSidecar({
      upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', dnsResolver: '127.0.0.1:1',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, {
      logger: createLogger('silent'), locks, identity,
      egressAllowHosts: () => [`localhost:${targetPort}`, `localhost:${echoPort}`, 'localhost:443'],
      journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }),
    });
  });
  afterEach(() => {
    locks.unlockAll();
    locks.feedRefusal = undefined;
    tokenRefusal = undefined;
  });
  afterAll(async () => {
    await sidecar.close();
    target.closeAllConnections();
    await new Promise((r) => target.close(r));
    await new Promise((r) => echo.close(r));
  });

  const proxyPort = (): number => Number(new URL(sidecar.egressUrl).port);

  /** An absolute-form request through the proxy. */
  function viaProxy(path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxyPort(), path: `http://localhost:${targetPort}${path}`, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** CONNECT through the proxy: the raw answer, and the socket (a tunnel when the answer is 200). */
  function connect(authority: string): Promise<{ head: string; socket: net.Socket }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(proxyPort(), '127.0.0.1', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`));
      let head = '';
      const onData = (d: Buffer): void => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        resolve({ head, socket });
      };
      socket.on('data', onData);
      socket.on('error', reject);
      socket.on('close', () => resolve({ head, socket }));
    });
  }

  /** What the Claude endpoint answers the same skill right now: the reference for egress refusals. */
  async function claudeRefusal(): Promise<{ status: number; code: string | null; message: string }> {
    const res = await fetch(new URL('/v1/messages', sidecar.claudeUrl), { method: 'POST', body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }) });
    const body = await res.json() as { error: { message: string } };
    return { status: res.status, code: res.headers.get('x-skillgate-error'), message: body.error.message };
  }

  it('refuses plain HTTP, CONNECT, transparent TLS and DNS to allowlisted hosts while a lock matches, in the Claude path\'s words, journaled and counted', async () => {
    expect((await viaProxy('/')).body).toBe('customer records'); // allowlisted, and reached while unlocked
    locks.lock(IDENTITY.skill, OFFBOARDED);
    const claude = await claudeRefusal();
    expect(claude).toMatchObject({ status: 403, code: codes.locked });

    const plain = await viaProxy('/');
    expect(plain.status).toBe(403);
    expect(plain.headers['x-skillgate-error']).toBe(codes.locked);
    const body = JSON.parse(plain.body) as { type: string; error: { type: string; message: string }; request_id: string };
    expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error', message: claude.message } });
    expect(body.error.message).toContain('offboard-contractor');
    expect(attempts.at(-1)).toMatchObject({ method: 'GET', destination: `localhost:${targetPort}`, allowed: false, requestId: body.request_id, reason: expect.stringContaining('[SG_LOCKED]') });

    const tunnel = await connect(`localhost:${echoPort}`);
    tunnel.socket.destroy();
    expect(tunnel.head).toMatch(/^HTTP\/1.1 403 Forbidden\r\n/);
    expect(tunnel.head).toContain(`\r\nx-skillgate-error: ${codes.locked}\r\n`);
    expect(tunnel.head).toContain(JSON.stringify(claude.message));
    expect(attempts.at(-1)).toMatchObject({ method: 'CONNECT', destination: `localhost:${echoPort}`, allowed: false, reason: expect.stringContaining('[SG_LOCKED]') });

    await new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: proxyPort(), servername: 'localhost', rejectUnauthorized: false });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    expect(attempts.at(-1)).toMatchObject({ method: 'TLS', destination: 'localhost:443', allowed: false, reason: expect.stringContaining('[SG_LOCKED]') });

    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${sidecar.dnsPort}`]);
    await expect(resolver.resolve4('localhost')).rejects.toMatchObject({ code: 'EREFUSED' });
    expect(attempts.at(-1)).toMatchObject({ method: 'DNS A', destination: 'localhost', allowed: false, reason: expect.stringContaining('[SG_LOCKED]') });

    const refusals = await sidecar.context.metrics.registry.getSingleMetricAsString('skillgate_sidecar_refusals_total');
    expect(refusals).toMatch(/code="SG_LOCKED"\} 5\b/); // the Claude request, then egress: HTTP, CONNECT, TLS, DNS
    expect(await sidecar.context.metrics.registry.getSingleMetricAsString('skillgate_sidecar_egress_total')).toMatch(/decision="denied"\} 3\b/);
    // The SkillLock's status counts the Claude request and the three connections (not DNS names).
    expect(locks.counted).toEqual(Array(4).fill('offboard-contractor:requestsRefused'));
  });

  it('refuses egress, as the Claude path refuses requests, when the workload token is refused or the lock feed cannot be vouched for', async () => {
    tokenRefusal = new GatewayError(codes.tokenRevoked, 'permission_error', 'This skill\'s workload token was refused by the skillgate controller: owner offboarded. Nothing is forwarded until that is resolved.');
    let claude = await claudeRefusal();
    let plain = await viaProxy('/');
    expect([plain.status, plain.headers['x-skillgate-error'], JSON.parse(plain.body).error.message]).toEqual([claude.status, codes.tokenRevoked, claude.message]);
    tokenRefusal = undefined;

    locks.feedRefusal = new GatewayError(codes.lockFeedLost, 'overloaded_error', 'skillgate lost the lock feed 40 s ago (bound 30 s) and fails closed until it is back.', { status: 503, headers: { 'retry-after': '5' } });
    claude = await claudeRefusal();
    plain = await viaProxy('/');
    expect([plain.status, plain.headers['x-skillgate-error'], JSON.parse(plain.body).error.message]).toEqual([503, codes.lockFeedLost, claude.message]);
    expect(plain.headers['retry-after']).toBe('5');
    const tunnel = await connect(`localhost:${echoPort}`);
    tunnel.socket.destroy();
    expect(tunnel.head).toMatch(/^HTTP\/1.1 503 Service Unavailable\r\n/);
    expect(tunnel.head).toContain('\r\nretry-after: 5\r\n');
  });

  it('cuts the skill\'s open tunnel and a forwarded request still waiting for its answer when a lock comes, journaling each cut', async () => {
    const { head, socket } = await connect(`localhost:${echoPort}`);
    expect(head).toMatch(/^HTTP\/1.1 200 Connection Established/);
    const echoed = new Promise<void>((r) => socket.once('data', () => r()));
    socket.write('hello');
    await within(echoed, 5000, 'the tunnel to carry bytes');
    const tunnelClosed = new Promise<void>((r) => socket.on('close', () => r()));

    const waiting = viaProxy('/hold');
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (held.length) { clearInterval(t); r(); } }, 5); }), 5000, 'the request to reach the target');
    const targetSawClose = new Promise<void>((r) => held[0]!.on('close', () => r()));

    // A lock on another skill cuts nothing.
    locks.lock('another-skill', { lockName: 'other', reason: 'elsewhere' });
    const stillOpen = new Promise<void>((r) => socket.once('data', () => r()));
    socket.write('still there?');
    await within(stillOpen, 5000, 'the tunnel to stay open');

    locks.lock(IDENTITY.skill, OFFBOARDED);
    await within(tunnelClosed, 5000, 'the tunnel to be cut');
    const answer = await within(waiting, 5000, 'the waiting request to be answered');
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error.message).toContain('offboard-contractor');
    await within(targetSawClose, 5000, 'the forwarded request to be aborted at the target');

    const cuts = attempts.filter((a) => a.reason?.startsWith('connection cut'));
    expect(cuts).toEqual(expect.arrayContaining([
      expect.objectContaining({ method: 'CONNECT', destination: `localhost:${echoPort}`, allowed: false, bytesUp: expect.any(Number), bytesDown: expect.any(Number), reason: expect.stringContaining('offboard-contractor') }),
      expect.objectContaining({ method: 'GET', destination: `localhost:${targetPort}`, allowed: false, reason: expect.stringContaining('[SG_LOCKED]') }),
    ]));
    expect(cuts).toHaveLength(2);
    // The tunnel's bytes as the skill's socket carried them: its CONNECT and 17 bytes up, their echo down.
    const tunnelCut = cuts.find((c) => c.method === 'CONNECT')!;
    expect(tunnelCut.bytesUp).toBeGreaterThanOrEqual(17);
    expect(tunnelCut.bytesDown).toBeGreaterThanOrEqual(17);
    expect(locks.counted.filter((c) => c.endsWith('streamsKilled'))).toEqual(['offboard-contractor:streamsKilled', 'offboard-contractor:streamsKilled']);
    // Cut connections leave the registry: nothing is left for the next sweep, and no Claude exchange was counted.
    expect(sidecar.sweepLive()).toBe(0);
    expect(sidecar.context.live.size).toBe(0);
  });
});

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';


/** Resolves once `ok()` holds (looked at every 5 ms). */
function until(ok: () => boolean): Promise<void> {
  return new Promise((r) => { const t = setInterval(() => { if (ok()) { clearInterval(t); r(); } }, 5); });
}

describe('what a skill holds open when it loses its standing', () => {
  const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  let issuer: WorkloadTokenIssuer;
  let pub: LockFeedPublisher;
  let upstream: Awaited<ReturnType<typeof endlessSse>>;
  let echo: net.Server;
  let echoPort: number;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    issuer = new WorkloadTokenIssuer(await generateSigningKey(), 'https://controller');
    pub = new LockFeedPublisher({ redisUrl: REDIS_URL, prefix });
    await pub.start();
    await pub.reset([]);
    upstream = await endlessSse();
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await pub.close();
    await upstream.close();
    await new Promise((r) => echo.close(r));
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  /**
   * A sidecar as wiring.ts assembles it in a cluster: the ClusterIdentity, exchanging at a stand-in
   * controller that grants a token living `tokenLifeS`, refuses (403 access_denied, an offboarded
   * owner) or drops every connection (unreachable) as `controller` says; the RedisLockGuard, whose
   * clock (`feedNow`) the test moves to cross the feed's loss bound or lapse a lock.
   */
  async function cluster(opts: { tokenLifeS?: number; maxFeedLossMs?: number } = {}) {
    const rig = {
      controller: 'grant' as 'grant' | 'refuse' | 'unreachable',
      feedNow: Date.now(),
      events: [] as IdentityEvent[],
      attempts: [] as EgressAttempt[],
    };
    const ctl = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (rig.controller === 'unreachable') return void req.socket.destroy();
        if (rig.controller === 'refuse') {
          res.writeHead(403, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ error: 'access_denied', error_description: 'owner contractor@example.com of skill invoice-triage is offboarded' }));
        }
        void issuer.issue(IDENTITY, { ttlSeconds: 600 }).then((t) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: t.token, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: opts.tokenLifeS ?? 600, upstream_credential: { type: 'api_key', value: 'sk-from-controller' } }));
        });
      });
    });
    await new Promise<void>((r) => ctl.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { ctl.closeAllConnections(); ctl.close(() => r()); }));
    const dir = mkdtempSync(join(tmpdir(), 'sg-standing-'));
    writeFileSync(join(dir, 'token'), 'projected-sa-token\n');

    const redis = await new RedisProxy(REDIS_URL).start();
    cleanups.push(() => redis.stop());
    const locks = new RedisLockGuard({ redisUrl: redis.url, prefix, clock: () => rig.feedNow, ...(opts.maxFeedLossMs ? { maxFeedLossMs: opts.maxFeedLossMs } : {}) });
    cleanups.push(() => locks.close());
    await locks.start();
    await locks.whenSynced(5000);
    const identity = new ClusterIdentity({
      controllerUrl: `http://127.0.0.1:${(ctl.address() as AddressInfo).port}`, tokenFile: join(dir, 'token'), fallback: IDENTITY,
      onEvent: (e) => rig.events.push(e),
    });
    cleanups.push(() => identity.close());
    await identity.start();
    identity.watchRevocations(locks); // as wiring.ts does, before the sidecar follows the lock set
    const sidecar = await startSidecar({
      upstreamUrl: upstream.url, dnsResolver: '127.0.0.1:1',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, {
      logger: createLogger('silent'), identity, credential: identity, locks,
      egressAllowHosts: () => [`localhost:${echoPort}`],
      journal: (l) => ({ ...logJournal(l), egress: (a) => void rig.attempts.push(a) }),
    });
    cleanups.push(() => sidecar.close());

    const proxyPort = Number(new URL(sidecar.egressUrl).port);
    /** A CONNECT to the echo server: the answer's status line, and the socket. */
    const connect = (): Promise<{ status: string; socket: net.Socket; closed: Promise<void> }> => new Promise((resolve, reject) => {
      const socket = net.connect(proxyPort, '127.0.0.1', () => socket.write(`CONNECT localhost:${echoPort} HTTP/1.1\r\nhost: localhost:${echoPort}\r\n\r\n`));
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      cleanups.push(() => void socket.destroy());
      let head = '';
      const onData = (d: Buffer): void => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        resolve({ status: head.slice(0, head.indexOf('\r\n')), socket, closed });
      };
      socket.on('data', onData);
      socket.on('error', reject);
      void closed.then(() => resolve({ status: head.slice(0, head.indexOf('\r\n')), socket, closed }));
    });
    /** An open tunnel that has carried bytes both ways. */
    const tunnel = async () => {
      const t = await connect();
      expect(t.status).toBe('HTTP/1.1 200 Connection Established');
      expect(await echoes(t.socket)).toBe(true);
      return t;
    };
    /** A streamed Claude request, open and streaming. */
    const stream = async () => {
      const s = await new Promise<{ status: number; text: () => string; ended: Promise<void> }>((resolve, reject) => {
        const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] });
        const req = http.request(`${sidecar.claudeUrl}/v1/messages`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          const ended = new Promise<void>((r) => { res.on('end', r); res.on('close', r); });
          res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
          resolve({ status: res.statusCode ?? 0, text: () => text, ended });
        });
        cleanups.push(() => void req.destroy());
        req.on('error', reject);
        req.end(body);
      });
      expect(s.status).toBe(200);
      await within(until(() => s.text().includes('event: ping')), 5000, 'the stream to flow');
      return s;
    };
    return { rig, sidecar, identity, locks, redis, connect, tunnel, stream };
  }

  /** Whether bytes written into the tunnel come back (false: it is closed, or carries nothing within 2 s). */
  function echoes(socket: net.Socket): Promise<boolean> {
    if (socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), 2000);
      socket.once('data', () => { clearTimeout(t); resolve(true); });
      socket.once('close', () => { clearTimeout(t); resolve(false); });
      socket.write('customer records?');
    });
  }

  /** The `event: error` a cut stream ended with. */
  function errorEvent(text: string): { type: string; error: { type: string; message: string } } {
    const event = text.split('\n\n').find((e) => e.startsWith('event: error'));
    expect(event).toBeDefined();
    return JSON.parse(event!.split('data: ')[1]!) as { type: string; error: { type: string; message: string } };
  }

  const cutsOf = (attempts: EgressAttempt[]): EgressAttempt[] => attempts.filter((a) => a.reason?.startsWith('connection cut'));

  it('cuts an open tunnel and an open stream when the controller refuses the skill its token, and journals and counts each cut', async () => {
    const { rig, sidecar, identity, tunnel, stream } = await cluster();
    const t = await tunnel();
    const s = await stream();

    rig.controller = 'refuse';
    await identity.refreshNow(); // the owner was offboarded: no lock needed to reach this sidecar
    await within(t.closed, 5000, 'the tunnel to be cut');
    await within(s.ended, 5000, 'the stream to be cut');
    expect(errorEvent(s.text())).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('offboarded') } });
    expect(errorEvent(s.text()).error.message).toContain(`[${codes.tokenRevoked}]`);
    expect(cutsOf(rig.attempts)).toEqual([expect.objectContaining({ method: 'CONNECT', destination: `localhost:${echoPort}`, allowed: false, bytesUp: expect.any(Number), reason: expect.stringContaining(`[${codes.tokenRevoked}]`) })]);
    expect(await sidecar.context.metrics.registry.getSingleMetricAsString('skillgate_sidecar_stream_ends_total')).toMatch(/outcome="killed"\} 1\b/);
    expect(await sidecar.context.metrics.registry.getSingleMetricAsString('skillgate_sidecar_refusals_total')).toMatch(new RegExp(`code="${codes.tokenRevoked}"\\} 1\\b`));
    expect(sidecar.context.live.size).toBe(0);
    expect(sidecar.sweepLive()).toBe(0); // nothing left open
  });

  it('cuts them at the token\'s expiry when no refresh could be had, though no request came to notice', async () => {
    const { rig, tunnel, stream } = await cluster({ tokenLifeS: 1 });
    const issued = rig.events.find((e) => e.type === 'token_issued')!;
    const t = await tunnel();
    const s = await stream();
    rig.controller = 'unreachable'; // the refresh at 80 % fails: the token is kept until it expires

    await within(t.closed, 5000, 'the tunnel to be cut');
    await within(s.ended, 5000, 'the stream to be cut');
    expect(Date.now()).toBeGreaterThanOrEqual((issued as { expiresAt: number }).expiresAt);
    expect(rig.events.map((e) => e.type)).toEqual(expect.arrayContaining(['token_refused', 'token_expired']));
    expect(errorEvent(s.text())).toMatchObject({ error: { type: 'authentication_error', message: expect.stringMatching(/workload token expired.*\[SG_WORKLOAD_TOKEN_MISSING\]/) } });
    expect(cutsOf(rig.attempts)).toEqual([expect.objectContaining({ method: 'CONNECT', reason: expect.stringContaining(`[${codes.tokenMissing}]`) })]);
  });

  it('keeps them open while the controller is merely unreachable and the token still valid, through lock changes too', async () => {
    const { rig, identity, locks, tunnel, stream, connect } = await cluster();
    const t = await tunnel();
    const s = await stream();
    rig.controller = 'unreachable';
    await identity.refreshNow();
    expect(rig.events.at(-1)).toMatchObject({ type: 'token_refused', error: 'unreachable' });

    // A lock elsewhere makes the sidecar sweep: nothing of this skill's is cut.
    await pub.put({ name: 'elsewhere', target: { kind: 'skill', value: 'another-skill', namespace: IDENTITY.namespace }, reason: 'elsewhere' });
    await within(until(() => locks.lockNamed('elsewhere') !== undefined), 5000, 'the lock to arrive');
    expect(await echoes(t.socket)).toBe(true);
    const before = s.text().length;
    await within(until(() => s.text().length > before + 100), 5000, 'the stream to keep flowing');
    expect(s.text()).not.toContain('event: error');
    expect((await connect()).status).toBe('HTTP/1.1 200 Connection Established'); // and new ones are let through
    await pub.remove('elsewhere');
  });

  it('cuts them when the lock feed has been lost past its bound, on the guard\'s own timer', async () => {
    const { rig, locks, redis, tunnel, stream } = await cluster({ maxFeedLossMs: 1000 });
    const t = await tunnel();
    const s = await stream();
    await redis.stop(); // Redis unreachable: an offboarding could no longer reach this sidecar as a lock
    await within(until(() => locks.feed.state() === 'lost'), 5000, 'the loss to be noticed');
    expect(await echoes(t.socket)).toBe(true); // within the bound: kept

    rig.feedNow += 1001;
    await within(t.closed, 5000, 'the tunnel to be cut');
    await within(s.ended, 5000, 'the stream to be cut');
    expect(errorEvent(s.text())).toMatchObject({ error: { type: 'overloaded_error', message: expect.stringMatching(/lost the lock feed.*\[SG_LOCK_FEED_LOST\]/) } });
    expect(cutsOf(rig.attempts)).toEqual([expect.objectContaining({ method: 'CONNECT', reason: expect.stringContaining(`[${codes.lockFeedLost}]`) })]);
  });

  it('a revoked token stays refused until a new one arrives, even when the controller is unreachable and the revocation lock has lapsed', async () => {
    const { rig, identity, locks, tunnel, stream, connect } = await cluster();
    const t = await tunnel();
    const s = await stream();
    const jti = identity.tokenId()!;
    rig.controller = 'unreachable'; // the re-exchange the revocation asks for cannot happen
    // The revocation lasts until the token's expiry by the controller's clock: sooner than by this sidecar's.
    await pub.put(revocationLock({ jti, expiresAt: rig.feedNow + 1000 }, 'skill invoice-triage reassigned to bob@example.com'));
    await within(t.closed, 5000, 'the tunnel to be cut');
    await within(s.ended, 5000, 'the stream to be cut');
    // Cut, naming the revocation.
    expect(errorEvent(s.text())).toMatchObject({ error: { type: 'permission_error', message: expect.stringMatching(/reassigned to bob/) } });

    rig.feedNow += 2000;
    expect(locks.lockNamed(revocationLockName(jti))).toBeUndefined(); // the lock has lapsed
    expect(identity.refusal()).toMatchObject({ code: codes.tokenRevoked, status: 403, message: expect.stringMatching(/revoked.*reassigned to bob/) });
    expect(() => identity.credential()).toThrow(expect.objectContaining({ code: codes.tokenRevoked }));
    const refused = await connect();
    expect(refused.status).toBe('HTTP/1.1 403 Forbidden');

    rig.controller = 'grant';
    await identity.refreshNow(); // (the one in flight may be a failed retry)
    if (identity.tokenId() === undefined) await identity.refreshNow();
    expect(identity.tokenId()).not.toBe(jti);
    expect(identity.refusal()).toBeUndefined();
    expect((await connect()).status).toBe('HTTP/1.1 200 Connection Established');
  });
});
