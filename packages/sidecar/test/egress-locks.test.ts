// A skill that may not act has no way out through egress either: while a lock matches it (its owner
// offboarded, a responder's SkillLock), its workload token is refused, or the lock feed cannot be
// vouched for, the egress proxy (plain HTTP, CONNECT, transparent TLS) and the DNS guard refuse it
// with the Claude path's own error, journaled and counted; and a lock cuts the egress connections
// it already holds open, as it cuts its Claude streams. The locks and the identity here are
// in-process ports (the Redis-fed lock guard and the controller-fed identity have their own tests);
// the destinations are real servers on loopback.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { GatewayError, codes } from '@skillgate/wire';
import { startSidecar, type EgressAttempt, type IdentitySource, type LockGuard, type LockHit, type LockSubject, type Sidecar } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { logJournal } from '../src/ports/journal.js';

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
    expect(sidecar.sweepLocks()).toBe(0);
    expect(sidecar.context.live.size).toBe(0);
  });
});
