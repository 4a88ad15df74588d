// The egress proxy: allowlisted destinations are reached (HTTP forward, CONNECT, transparent
// HTTP and TLS by SNI); everything else is refused with a clear 403 and journaled.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startSidecar, type EgressAttempt, type Sidecar } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { logJournal } from '../src/ports/journal.js';
import { EgressAllowlist, parseAuthority } from '../src/egress/allowlist.js';
import { readClientHello, readSni } from '../src/egress/sni.js';
import { isOwnAddress, ownAddressGuard } from '../src/egress/lookup.js';
import { frontedName } from '../src/egress/proxy.js';

describe('the egress allowlist', () => {
  const list = new EgressAllowlist(['api.github.com', '*.example.com:443', '127.0.0.1:8080']);
  it.each([
    ['api.github.com:443', true],
    ['API.GitHub.com:80', true],
    ['evil.com:443', false],
    ['a.example.com:443', true],
    ['a.b.example.com:443', true],
    ['example.com:443', false],
    ['a.example.com:80', false],
    ['127.0.0.1:8080', true],
    ['127.0.0.1:8081', false],
  ])('%s allowed is %s', (authority, allowed) => {
    expect(list.allows(parseAuthority(authority, 443)!)).toBe(allowed);
  });

  it('takes only host names and IP literals: a name a wildcard rule would match by its ending while the connection went elsewhere is none', () => {
    for (const bad of ['evil.com\0.example.com:443', 'evil.com?.example.com:443', 'evil.com@x.example.com:443', 'evil.com#.example.com:443', 'evil.com\\.example.com:443', 'evil com.example.com:443', 'evil.com\x80.example.com:443']) {
      expect([bad, parseAuthority(bad, 443)]).toEqual([bad, undefined]);
    }
    expect(parseAuthority('[::1]:8443', 443)).toEqual({ host: '::1', port: 8443 });
    expect(parseAuthority('API.Example.COM.', 443)).toEqual({ host: 'api.example.com', port: 443 });
    // A rule for any port of a host, as the CRD writes it.
    expect(new EgressAllowlist(['files.example.net:*']).allows({ host: 'files.example.net', port: 8443 })).toBe(true);
  });
});

describe('the egress proxy', () => {
  let target: http.Server;
  let targetPort: number;
  let sidecar: Sidecar;
  const attempts: EgressAttempt[] = [];

  beforeAll(async () => {
    target = http.createServer((req, res) => res.end(req.url === '/host' ? `host ${req.headers.host}` : `target saw ${req.method} ${req.url}`));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetPort = (target.address() as AddressInfo).port;
    const log = createLogger('silent');
    sidecar = await startSidecar({
      upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, {
      logger: log,
      egressAllowHosts: () => [`localhost:${targetPort}`],
      journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }),
    });
  });
  afterAll(async () => {
    await sidecar.close();
    target.closeAllConnections();
    await new Promise((r) => target.close(r));
  });

  const proxyPort = () => Number(new URL(sidecar.egressUrl).port);

  function viaProxy(absoluteUrl: string, host = new URL(absoluteUrl).host): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxyPort(), path: absoluteUrl, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('forwards an allowlisted plain HTTP request', async () => {
    const res = await viaProxy(`http://localhost:${targetPort}/hello?x=1`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('target saw GET /hello?x=1');
    expect(attempts.at(-1)).toMatchObject({ destination: `localhost:${targetPort}`, allowed: true });
  });

  it('sends the allowlisted host as Host, whatever Host the skill put on an absolute-form request (no fronting)', async () => {
    const res = await viaProxy(`http://localhost:${targetPort}/host`, 'exfil.attacker.example');
    expect(res.body).toBe(`host localhost:${targetPort}`);
  });

  it('refuses a destination outside the allowlist with a 403 that says why, and journals it', async () => {
    const res = await viaProxy(`http://127.0.0.1:${targetPort}/exfiltrate`);
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body);
    expect(body.error.type).toBe('permission_error');
    expect(body.error.message).toContain(`127.0.0.1:${targetPort}`);
    expect(body.error.message).toContain('egress allowlist');
    expect(body.error.message).toMatch(/\[SG_EGRESS_DENIED\]$/);
    expect(body.request_id).toMatch(/^req_/);
    expect(attempts.at(-1)).toMatchObject({ destination: `127.0.0.1:${targetPort}`, allowed: false });
  });

  it('tunnels CONNECT to an allowlisted host and refuses others; refuses plain HTTP inside a tunnel (its Host could front)', async () => {
    const connect = (authority: string, inside = 'hello, not HTTP\r\n\r\n') => new Promise<string>((resolve) => {
      const s = net.connect(proxyPort(), '127.0.0.1', () => s.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`));
      let out = '';
      let sent = false;
      s.on('data', (d) => {
        out += d;
        if (!sent && out.includes('\r\n\r\n') && out.startsWith('HTTP/1.1 200')) {
          sent = true;
          s.write(inside);
        }
      });
      s.on('close', () => resolve(out));
    });
    // Bytes of another protocol reach the target (an HTTP server, which answers them 400).
    const ok = await connect(`localhost:${targetPort}`);
    expect(ok).toMatch(/^HTTP\/1.1 200 Connection Established\r\n\r\nHTTP\/1.1 400 Bad Request/);
    const viaTunnel = await connect(`localhost:${targetPort}`, `GET /via-tunnel HTTP/1.1\r\nhost: exfil.attacker.example\r\nconnection: close\r\n\r\n`);
    expect(viaTunnel).toBe('HTTP/1.1 200 Connection Established\r\n\r\n'); // then closed: the target saw nothing
    expect(attempts.at(-1)).toMatchObject({ method: 'CONNECT', destination: `localhost:${targetPort}`, allowed: false, reason: expect.stringMatching(/^plain HTTP inside a CONNECT tunnel/) });
    const denied = await connect('evil.example:443');
    expect(denied).toMatch(/^HTTP\/1.1 403/);
    expect(denied).toMatch(/\r\nx-skillgate-error: SG_EGRESS_DENIED\r\n/);
    expect(denied).toContain('[SG_EGRESS_DENIED]');
    expect(attempts.at(-1)).toMatchObject({ method: 'CONNECT', destination: 'evil.example:443', allowed: false });
  });

  it('routes transparently captured plain HTTP by its Host header', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxyPort(), path: '/captured', headers: { host: `localhost:${targetPort}` }, agent: false }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res).toEqual({ status: 200, body: 'target saw GET /captured' });
  });

  it('refuses transparently captured TLS to a name outside the allowlist, naming it in the journal', async () => {
    await new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: proxyPort(), servername: 'exfil.attacker.test', rejectUnauthorized: false });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    expect(attempts.at(-1)).toMatchObject({ method: 'TLS', destination: 'exfil.attacker.test:443', allowed: false });
  });

  it('reads a transparently captured ClientHello that arrives in two TCP reads (as a post-quantum one larger than a segment does)', async () => {
    const hello = await capturedHello('exfil.attacker.test');
    await new Promise<void>((resolve) => {
      const s = net.connect(proxyPort(), '127.0.0.1', () => {
        s.write(hello.subarray(0, 40));
        setTimeout(() => s.write(hello.subarray(40)), 50);
      });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    // Named, not "TLS without SNI": the name is what the allowlist judges.
    expect(attempts.at(-1)).toMatchObject({ method: 'TLS', destination: 'exfil.attacker.test:443', allowed: false });
  });
});

/** The ClientHello a real TLS client sends for `servername`. */
function capturedHello(servername: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve) => {
    const server = net.createServer((s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); server.close(); }));
    server.listen(0, '127.0.0.1', () => {
      tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername }).on('error', () => undefined);
    });
  });
}

/** `hello` (one record) re-framed as its handshake split over two TLS records at `at` bytes of the handshake. */
function splitRecords(hello: Buffer, at: number): Buffer {
  const hs = hello.subarray(5);
  const record = (payload: Buffer) => Buffer.concat([Buffer.from([0x16, hello[1]!, hello[2]!, payload.length >> 8, payload.length & 255]), payload]);
  return Buffer.concat([record(hs.subarray(0, at)), record(hs.subarray(at))]);
}

describe('reading SNI from a ClientHello', () => {
  it('finds the server name a real TLS client sends', async () => {
    const hello = await new Promise<Buffer>((resolve) => {
      const server = net.createServer((s) => s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        server.close();
      }));
      server.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'api.github.com' });
        c.on('error', () => undefined);
      });
    });
    expect(readSni(hello)).toBe('api.github.com');
  });
  it('takes no server name that is not a host name (a NUL the resolver would cut the name at)', async () => {
    const name = 'aaaaaaaaaaaa.allowed.example';
    const hello = await new Promise<Buffer>((resolve) => {
      const server = net.createServer((s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); server.close(); }));
      server.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: name });
        c.on('error', () => undefined);
      });
    });
    expect(readSni(hello)).toBe(name);
    const at = hello.indexOf(name);
    for (const forged of ['attacker.io\0', 'attacker.io\x80']) {
      const bytes = Buffer.from(hello);
      bytes.write(forged, at, 'latin1'); // as long as the first label: "attacker.io\0.allowed.example"
      expect(readSni(bytes)).toBeUndefined();
    }
  });

  it('reads a ClientHello split over TLS records, and tells a name that is no host name, none, and more to come apart', async () => {
    const hello = await capturedHello('api.github.com');
    for (const at of [2, 30, 100]) expect(readClientHello(splitRecords(hello, at))).toEqual({ kind: 'hello', name: 'api.github.com' });
    expect(readClientHello(hello.subarray(0, hello.length - 1))).toEqual({ kind: 'more' });
    expect(readClientHello(splitRecords(hello, 30).subarray(0, 40))).toEqual({ kind: 'more' });
    expect(readClientHello(await capturedHello('evil_host.test'))).toEqual({ kind: 'hello', unreadableName: true });
    expect(readClientHello(Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0]))).toEqual({ kind: 'malformed' }); // a ServerHello
    // An empty record (TLS has none) is no ClientHello, whatever follows: nothing waits on it.
    expect(readClientHello(Buffer.concat([Buffer.from([0x16, 3, 1, 0, 0]), hello]))).toEqual({ kind: 'malformed' });
    // Split over more records than any client uses: no endless wait either.
    const many = Buffer.concat(Array.from({ length: 20 }, () => Buffer.from([0x16, 3, 1, 0, 1, 1])));
    expect(readClientHello(many)).toEqual({ kind: 'malformed' });
  });

  it('returns undefined for bytes that are not a ClientHello', () => {
    expect(readSni(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBeUndefined();
    expect(readSni(Buffer.from([0x16, 0x03, 0x01]))).toBeUndefined();
  });
});

describe('egress addressed to the Claude upstream itself', () => {
  it('routes plain HTTP through the Claude pipeline (credential swapped) and refuses CONNECT', async () => {
    const { startUpstreamDouble } = await import('./upstream-double.js');
    const upstream = await startUpstreamDouble();
    const sidecar = await startSidecar({
      upstreamUrl: upstream.url, upstreamApiKey: 'sk-ant-sidecar',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent') });
    try {
      const proxyPort = Number(new URL(sidecar.egressUrl).port);
      upstream.queue({ headers: { 'content-type': 'application/json' }, chunks: ['{"id":"msg_x"}'] });
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'POST', path: `${upstream.url}/v1/messages`, headers: { 'x-api-key': 'stolen-key', host: new URL(upstream.url).host }, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'm', max_tokens: 1, messages: [] }));
      });
      expect(status).toBe(200);
      expect(upstream.received.at(-1)!.headers['x-api-key']).toBe('sk-ant-sidecar');

      const reply = await new Promise<string>((resolve) => {
        const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${new URL(upstream.url).host} HTTP/1.1\r\n\r\n`));
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('close', () => resolve(out));
      });
      expect(reply).toMatch(/^HTTP\/1.1 403/);
      expect(reply).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:15001');
    } finally {
      await sidecar.close();
      await upstream.close();
    }
  });
});

describe('an allowlisted server or a skill misbehaving on the egress port', () => {
  /** A raw TCP server answering every request with `answer`, and the sidecar allowing it. */
  async function withRawTarget(answer: string, limits: Record<string, number>, use: (proxyPort: number, targetPort: number, s: Sidecar) => Promise<void>): Promise<void> {
    const target = net.createServer((c) => { c.once('data', () => c.end(answer)); c.on('error', () => undefined); });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetPort = (target.address() as AddressInfo).port;
    const sidecar = await startSidecar({
      upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', limits,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), egressAllowHosts: () => [`localhost:${targetPort}`] });
    try {
      await use(Number(new URL(sidecar.egressUrl).port), targetPort, sidecar);
    } finally {
      await sidecar.close();
      await new Promise((r) => target.close(r));
    }
  }
  const get = (proxyPort: number, url: string, headers: Record<string, string> = {}) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: url, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });

  it('answers a status node:http will not send (099) with a 502, and keeps serving', async () => {
    await withRawTarget('HTTP/1.1 099 Odd\r\ncontent-length: 2\r\n\r\nhi', {}, async (proxyPort, targetPort) => {
      const res = await get(proxyPort, `http://localhost:${targetPort}/`);
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body).error.message).toMatch(/answered HTTP status 99, which is not one/);
      expect((await get(proxyPort, `http://localhost:${targetPort}/again`)).status).toBe(502); // still alive
    });
  });

  it('answers a protocol switch it does not relay (101, asked for or not) with a 502 instead of hanging', async () => {
    await withRawTarget('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n', {}, async (proxyPort, targetPort) => {
      const res = await get(proxyPort, `http://localhost:${targetPort}/ws`, { connection: 'upgrade', upgrade: 'websocket' });
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body).error.message).toMatch(/switched protocols/);
    });
  });

  it('closes a connection that sends no request in time, and holds no more connections than its limit', async () => {
    await withRawTarget('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', { egressHeadersTimeoutMs: 300, egressMaxConnections: 4 }, async (proxyPort) => {
      const open = (): Promise<{ socket: net.Socket; closed: Promise<number> }> => new Promise((resolve) => {
        const socket = net.connect(proxyPort, '127.0.0.1', () => {
          const t0 = Date.now();
          resolve({ socket, closed: new Promise((r) => socket.on('close', () => r(Date.now() - t0))) });
        });
        socket.on('error', () => undefined);
      });
      // Silent, and half a request: each closed after the headers' time.
      const silent = await open();
      const half = await open();
      half.socket.write('GET http://localhost:1/ HTTP/1.1\r\nx-slow: ');
      expect(await silent.closed).toBeLessThan(5000);
      expect(await half.closed).toBeLessThan(5000);
      // Four held at once: a fifth is closed at once.
      const held = await Promise.all([open(), open(), open(), open()]);
      const fifth = await open();
      expect(await fifth.closed).toBeLessThan(250);
      for (const h of held) h.socket.destroy();
    });
  });
});

describe('TLS inside a CONNECT tunnel', () => {
  /** A raw target that keeps what each connection sent first; a sidecar allowing `localhost:<its port>`. */
  async function tunnelTo(use: (open: (servername: string, split?: boolean) => Promise<{ closedWithoutReply: boolean }>, received: Buffer[], attempts: EgressAttempt[]) => Promise<void>): Promise<void> {
    const received: Buffer[] = [];
    const target = net.createServer((c) => { c.once('data', (d: Buffer) => received.push(d)); c.on('error', () => undefined); });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    const attempts: EgressAttempt[] = [];
    const sidecar = await startSidecar({
      upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), egressAllowHosts: () => [`localhost:${port}`], journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }) });
    // CONNECT, then a real TLS client's ClientHello naming `servername` (optionally in two writes).
    const open = (servername: string, split = false) => new Promise<{ closedWithoutReply: boolean }>((resolve) => {
      const s = net.connect(Number(new URL(sidecar.egressUrl).port), '127.0.0.1', () => s.write(`CONNECT localhost:${port} HTTP/1.1\r\nhost: localhost:${port}\r\n\r\n`));
      let established = false;
      s.on('data', (d: Buffer) => {
        if (established || !d.toString().startsWith('HTTP/1.1 200')) return;
        established = true;
        const hello = new Promise<Buffer>((got) => {
          const capture = net.createServer((c) => c.once('data', (h: Buffer) => { got(h); c.destroy(); capture.close(); }));
          capture.listen(0, '127.0.0.1', () => tls.connect({ host: '127.0.0.1', port: (capture.address() as AddressInfo).port, servername }).on('error', () => undefined));
        });
        void hello.then((h) => {
          if (!split) return void s.write(h);
          s.write(h.subarray(0, 20));
          setTimeout(() => s.write(h.subarray(20)), 50);
        });
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve({ closedWithoutReply: true }));
      setTimeout(() => { resolve({ closedWithoutReply: false }); s.destroy(); }, 1500);
    });
    try {
      await use(open, received, attempts);
    } finally {
      await sidecar.close();
      target.close();
    }
  }

  it('passes a ClientHello that names the tunnel\'s host; refuses and records one that names another (fronting), whole or split over writes', async () => {
    await tunnelTo(async (open, received, attempts) => {
      expect(await open('localhost')).toEqual({ closedWithoutReply: false });
      expect(received.map((r) => readSni(r))).toEqual(['localhost']);
      for (const split of [false, true]) {
        expect(await open('exfil.attacker.example', split)).toEqual({ closedWithoutReply: true });
        expect(received).toHaveLength(1); // nothing reached the target
      }
      const refused = attempts.filter((a) => !a.allowed);
      expect(refused).toHaveLength(2);
      expect(refused[0]!.reason).toMatch(/TLS inside a CONNECT tunnel to the allowlisted localhost named exfil\.attacker\.example/);
    });
  });

  it('judges only a readable ClientHello against a host name (an IP literal names none)', () => {
    const hello = (name: string) => {
      // A minimal ClientHello carrying an SNI extension.
      const sni = Buffer.from(name, 'latin1');
      const ext = Buffer.concat([Buffer.from([0, 0]), u16(sni.length + 5), u16(sni.length + 3), Buffer.from([0]), u16(sni.length), sni]);
      const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([1, 0]), u16(ext.length), ext]);
      const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 255]), body]);
      return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(hs.length), hs]);
    };
    const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
    expect(readSni(hello('api.github.com'))).toBe('api.github.com');
    expect(frontedName('API.github.com.', hello('api.github.com'))).toBeUndefined();
    expect(frontedName('api.github.com', hello('evil.example'))).toMatch(/named evil\.example/);
    expect(frontedName('10.0.0.7', hello('evil.example'))).toBeUndefined();
    expect(frontedName('api.github.com', Buffer.from('SSH-2.0-OpenSSH\r\n'))).toBeUndefined();
    // The name split from the rest over TLS records, a name that is no host name, a hello that does not parse: refused.
    expect(frontedName('api.github.com', splitRecords(hello('evil.example'), 10))).toMatch(/named evil\.example/);
    expect(frontedName('api.github.com', hello('evil_host.example'))).toMatch(/named no host name/);
    expect(frontedName('api.github.com', hello('evil.example').subarray(0, 30))).toMatch(/not a ClientHello skillgate can read whole/);
    expect(frontedName('api.github.com', Buffer.from('GET / HTTP/1.1\r\nhost: evil.example\r\n\r\n'))).toMatch(/^plain HTTP inside a CONNECT tunnel/);
    // Other protocols that open with an upper-case word are not HTTP requests.
    for (const other of ['EHLO mail.example\r\n', 'AUTH s3cret\r\n', 'USER anonymous\r\n', 'CONNECT\naccept-version:1.2\n\n\0']) {
      expect([other, frontedName('api.github.com', Buffer.from(other))]).toEqual([other, undefined]);
    }
  });
});

describe('a flood of refused egress', () => {
  it('is all refused, journaled one by one up to the budget a second and then as a count', async () => {
    const attempts: EgressAttempt[] = [];
    const sidecar = await startSidecar({
      upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', refusalsPerSecond: 3,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }) });
    const counted = () => attempts.reduce((n, a) => n + (a.method === 'refused' ? Number(/^(\d+) more attempts$/.exec(a.destination)?.[1]) : 1), 0);
    try {
      const proxyPort = Number(new URL(sidecar.egressUrl).port);
      const firstSecond = Math.floor(Date.now() / 1000);
      const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => new Promise<string>((resolve) => {
        const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT exfil${i}.example:443 HTTP/1.1\r\n\r\n`));
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('close', () => resolve(out));
      })));
      // Every refusal was journaled (one by one or counted) by the time its reply went out.
      const seconds = Math.floor(Date.now() / 1000) - firstSecond + 1; // the budget's seconds the burst spanned (usually 1 or 2)
      expect(replies.every((r) => r.startsWith('HTTP/1.1 403'))).toBe(true);
      for (let waited = 0; waited < 2500 && counted() < 12; waited += 50) await new Promise((r) => setTimeout(r, 50));
      expect(counted()).toBe(12);
      expect(attempts.filter((a) => a.method === 'CONNECT').length).toBeLessThanOrEqual(3 * seconds);
      expect(attempts.find((a) => a.method === 'refused')).toMatchObject({ allowed: false, reason: expect.stringContaining('past the 3 a second recorded one by one') });
    } finally {
      await sidecar.close();
    }
  });
});

describe('a flood of allowed egress', () => {
  it('is all let through, journaled one by one up to the budget a second and then as a count', async () => {
    const target = net.createServer((c) => { c.on('data', () => undefined); c.on('error', () => undefined); });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    const attempts: EgressAttempt[] = [];
    const sidecar = await startSidecar({
      upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', refusalsPerSecond: 3,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), egressAllowHosts: () => [`localhost:${port}`], journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }) });
    const counted = () => attempts.reduce((n, a) => n + (a.method === 'allowed' ? Number(/^(\d+) more attempts$/.exec(a.destination)?.[1]) : a.method === 'CONNECT' ? 1 : 0), 0);
    try {
      const proxyPort = Number(new URL(sidecar.egressUrl).port);
      const firstSecond = Math.floor(Date.now() / 1000);
      const replies = await Promise.all(Array.from({ length: 12 }, () => new Promise<string>((resolve) => {
        const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT localhost:${port} HTTP/1.1\r\n\r\n`));
        s.once('data', (d) => { resolve(d.toString()); s.destroy(); });
        s.on('error', () => undefined);
      })));
      const seconds = Math.floor(Date.now() / 1000) - firstSecond + 1;
      expect(replies.every((r) => r.startsWith('HTTP/1.1 200'))).toBe(true);
      for (let waited = 0; waited < 2500 && counted() < 12; waited += 50) await new Promise((r) => setTimeout(r, 50));
      expect(counted()).toBe(12);
      expect(attempts.filter((a) => a.method === 'CONNECT').length).toBeLessThanOrEqual(3 * seconds);
      expect(attempts.find((a) => a.method === 'allowed')).toMatchObject({ allowed: true, reason: expect.stringContaining('past the 3 a second recorded one by one') });
    } finally {
      await sidecar.close();
      target.close();
    }
  });
});

describe('the addresses egress reaches', () => {
  const answers: Record<string, string[]> = {
    'metadata.partner.example': ['169.254.169.254'],
    'rebound.partner.example': ['93.184.216.34', '127.0.0.1'],
    'mapped.partner.example': ['::ffff:127.0.0.1'],
    'api.partner.example': ['93.184.216.34', '2606:2800:220:1::1'],
    localhost: ['127.0.0.1'],
  };
  const lookup = ownAddressGuard((name, _options, cb) => cb(null, (answers[name] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))));
  const resolve = (name: string, all = false) => new Promise<{ err?: NodeJS.ErrnoException; address?: unknown }>((done) =>
    lookup(name, all ? { all: true } : {}, (err, address) => done(err ? { err } : { address })));

  it('refuses a name that resolves to the node or the pod itself (DNS rebinding to metadata or loopback), whatever else it resolves to', async () => {
    for (const name of ['metadata.partner.example', 'rebound.partner.example', 'mapped.partner.example']) {
      const { err } = await resolve(name);
      expect([name, err?.code]).toEqual([name, 'EGRESS_OWN_ADDRESS']);
    }
    expect((await resolve('metadata.partner.example')).err?.message).toMatch(/resolves to 169\.254\.169\.254, an address of the node or the pod itself/);
  });

  it('passes other names through in the form asked for, and localhost named as such', async () => {
    expect(await resolve('api.partner.example')).toEqual({ address: '93.184.216.34' });
    expect(await resolve('api.partner.example', true)).toEqual({ address: [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }] });
    expect(await resolve('localhost')).toEqual({ address: '127.0.0.1' });
    expect(isOwnAddress('10.0.0.1')).toBe(false);
    expect(isOwnAddress('fe80::1')).toBe(true);
    // Cloud metadata services outside link-local: AWS's over IPv6, Alibaba's.
    expect([isOwnAddress('fd00:ec2::254'), isOwnAddress('100.100.100.200'), isOwnAddress('100.100.100.201')]).toEqual([true, true, false]);
  });
});
