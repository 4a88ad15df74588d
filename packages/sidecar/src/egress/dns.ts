// The DNS guard (127.0.0.1:15053, UDP and TCP, Istio's DNS-capture port): the pod's iptables rules
// redirect the skill's DNS queries here, whatever resolver they were sent to. A name is resolved
// only when the skill could reach it: a host of its egress allowlist, or the Claude upstream. Such a
// query goes to the pod's own resolver as it came (bytes unchanged) and its answer comes back as it
// went. Any other name is answered NXDOMAIN here and never leaves the pod: otherwise a query that a
// recursive resolver forwards is a channel out (data in the labels of a name under a domain the
// attacker serves), however tight the TCP egress. While the skill may reach nothing at all (locked,
// its owner offboarded, its token refused, a lock feed the sidecar cannot vouch for: standing.ts)
// every name is answered REFUSED here, allowed ones too. Denied and refused names are logged,
// counted and journaled as egress attempts (method `DNS <type>`; the journal masks the name for the
// record and the logs: its labels can carry data out). So are the allowed names under a wildcard of
// the allowlist (within the budget of allowed attempts: `<data>.t.partner.example` under
// `*.partner.example` is a channel too, one the allowlist opened). The resolver's search-list expansions of allowed names
// (orders.team-a.svc.cluster.local for an allowed `orders`) are resolved too, unjournaled: what
// they could carry out is fixed (an allowed name and a search domain), and short service names need
// them.
import dgram from 'node:dgram';
import net from 'node:net';
import { newRequestId } from '@skillgate/wire';
import type { SidecarContext } from '../context.js';
import type { EgressAllowlist } from './allowlist.js';
import type { BudgetedEgressJournal } from './budgeted-journal.js';
import { egressStanding, refusalReason } from './standing.js';
import { loggedText } from '../log.js';
import { DnsFormatError, RCODE, answerWith, formatErrorAnswer, parseQuery, typeName, type DnsQuestion } from './dns-message.js';

export interface Resolver {
  host: string;
  port: number;
}

export interface DnsGuardOptions {
  allowlist: () => EgressAllowlist;
  /** The Claude upstream's host name (the skill may resolve it: the capture hands it to the sidecar). */
  upstreamHost: string;
  /** Where allowed queries go: the pod's resolver. Absent: allowed names get SERVFAIL. */
  resolver: Resolver | undefined;
  /** The resolver's search list (resolv.conf `search`). */
  searchDomains: readonly string[];
  timeoutMs?: number;
  /** Queries forwarded at once; beyond it SERVFAIL (a flood must not exhaust sockets). */
  maxInFlight?: number;
  /** Where refused names are journaled (shared with the egress proxy's refusals: one budget). */
  refusals: BudgetedEgressJournal;
  /**
   * Where names resolved under a wildcard of the allowlist are journaled (with the egress proxy's
   * allowed connections: one budget): their labels are the skill's to write
   * (`<data>.t.partner.example` under `*.partner.example`). Absent: not journaled (only counted).
   */
  allowed?: BudgetedEgressJournal;
}

export type DnsDecision = 'allowed' | 'search' | 'denied';

/** Whether a name may be resolved. Pure. */
export function decideName(name: string, allowlist: EgressAllowlist, upstreamHost: string, searchDomains: readonly string[]): DnsDecision {
  const allowed = (host: string): boolean => host === upstreamHost || allowlist.allowsHost(host);
  if (name !== '' && allowed(name)) return 'allowed';
  for (const domain of searchDomains) {
    if (name.length > domain.length + 1 && name.endsWith(`.${domain}`) && allowed(name.slice(0, -domain.length - 1))) return 'search';
  }
  return 'denied';
}

/** The first IPv4 nameserver and the search list of a resolv.conf text. Pure. */
export function parseResolvConf(text: string): { resolver?: Resolver; searchDomains: string[] } {
  let resolver: Resolver | undefined;
  let searchDomains: string[] = [];
  for (const raw of text.split('\n')) {
    const [key, ...values] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && !resolver && values[0] && net.isIPv4(values[0])) resolver = { host: values[0], port: 53 };
    if (key === 'search' || key === 'domain') searchDomains = values.map((d) => d.toLowerCase().replace(/\.$/, '')).filter(Boolean);
  }
  return { ...(resolver ? { resolver } : {}), searchDomains };
}

export class DnsGuard {
  private udp: dgram.Socket | undefined;
  private readonly tcp: net.Server;
  private inFlight = 0;
  private closing: Promise<void> | undefined;
  /** Forwards waiting on the resolver: ended by close(), so they hold no shutdown up. */
  private readonly forwards = new Set<() => void>();

  constructor(private readonly ctx: SidecarContext, private readonly opts: DnsGuardOptions) {
    // Half-open: a client may send its queries and shut its side before the answers are back.
    this.tcp = net.createServer({ allowHalfOpen: true }, (socket) => this.serveTcp(socket));
  }

  /**
   * Bind UDP, then TCP on the same port; resolves with the port. An ephemeral port (0: tests) is
   * UDP's pick, which TCP may find taken: then both pick again.
   */
  async listen(host: string, port: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => { udp.off('error', reject); resolve(); });
      });
      const bound = udp.address().port;
      try {
        await new Promise<void>((resolve, reject) => {
          this.tcp.once('error', reject);
          this.tcp.listen(bound, host, () => { this.tcp.off('error', reject); resolve(); });
        });
      } catch (err) {
        udp.close();
        if (port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
        continue;
      }
      this.serveUdp(udp);
      return bound;
    }
  }

  /** Stop listening and end the forwards; once, however often it is called. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const end of this.forwards) end();
      const udp = this.udp;
      await Promise.all([
        new Promise<void>((r) => { if (!udp) r(); else udp.close(() => r()); }),
        new Promise<void>((r) => this.tcp.close(() => r())),
      ]);
    })();
    return this.closing;
  }

  private serveUdp(udp: dgram.Socket): void {
    this.udp = udp;
    udp.on('message', (msg, from) => {
      void this.answer(msg, 'udp').then((out) => { if (out && !this.closing) udp.send(out, from.port, from.address); });
    });
    udp.on('error', (err) => this.ctx.log.warn({ err: err.message }, 'DNS guard (UDP) error'));
  }

  /** The answer to one message, or undefined to drop it (not even a readable header). */
  async answer(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let q: DnsQuestion;
    try {
      q = parseQuery(msg);
    } catch (err) {
      this.ctx.metrics.dns.labels('malformed').inc();
      const id = (err as DnsFormatError).id;
      return id === undefined ? undefined : formatErrorAnswer(id);
    }
    const standing = egressStanding(this.ctx);
    if (standing.refusal) {
      // Counted by code as every refusal is; not in the SkillLock's own counters, which a flood of
      // names (far cheaper to send than connections) would turn into a flood of Redis writes.
      this.ctx.metrics.dns.labels('denied').inc();
      this.ctx.metrics.refusals.labels(standing.refusal.code).inc();
      this.opts.refusals.record({
        requestId: newRequestId(), method: `DNS ${typeName(q.qtype)}`, destination: q.name || '.', allowed: false,
        reason: `answered REFUSED in the pod, not sent to any resolver: ${refusalReason(standing.refusal)}`,
      });
      return answerWith(msg, q, RCODE.refused);
    }
    const allowlist = this.opts.allowlist();
    const decision = decideName(q.name, allowlist, this.opts.upstreamHost, this.opts.searchDomains);
    this.ctx.metrics.dns.labels(decision).inc();
    if (decision === 'denied') {
      this.opts.refusals.record({
        requestId: newRequestId(), method: `DNS ${typeName(q.qtype)}`, destination: q.name || '.', allowed: false,
        reason: 'name not in the egress allowlist: answered NXDOMAIN in the pod, not sent to any resolver',
      });
      return answerWith(msg, q, RCODE.nxDomain);
    }
    if (decision === 'allowed' && q.name !== this.opts.upstreamHost && this.opts.allowed && !allowlist.namesHost(q.name)) {
      this.opts.allowed.record({
        requestId: newRequestId(), method: `DNS ${typeName(q.qtype)}`, destination: q.name, allowed: true,
        reason: 'a name under a wildcard of the egress allowlist (its labels are the skill\'s to write): sent to the pod\'s resolver',
      });
    }
    const resolver = this.opts.resolver;
    if (!resolver || this.inFlight >= (this.opts.maxInFlight ?? 256)) return answerWith(msg, q, RCODE.servFail);
    this.inFlight += 1;
    try {
      return await (transport === 'udp' ? this.forwardUdp(msg, resolver) : this.forwardTcp(msg, resolver));
    } catch (err) {
      // The name is the skill's to choose (under an allowlisted wildcard): masked as the record masks it.
      this.ctx.log.debug({ err: (err as Error).message, name: loggedText(q.name, this.ctx.journal.maskText) }, 'DNS forward failed');
      return answerWith(msg, q, RCODE.servFail);
    } finally {
      this.inFlight -= 1;
    }
  }

  private forwardUdp(msg: Buffer, resolver: Resolver): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      const timer = setTimeout(() => done(new Error('resolver timed out')), this.opts.timeoutMs ?? 5000);
      let settled = false;
      const done = (err: Error | undefined, answer?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.forwards.delete(end);
        socket.close();
        if (err) reject(err);
        else resolve(answer!);
      };
      const end = (): void => done(new Error('the DNS guard closed'));
      this.forwards.add(end);
      socket.on('message', (answer, from) => {
        // Only the resolver's answer to this query (same id) counts.
        if (from.address === resolver.host && from.port === resolver.port && answer.length >= 2 && answer.readUInt16BE(0) === msg.readUInt16BE(0)) done(undefined, answer);
      });
      socket.on('error', (err) => done(err));
      socket.send(msg, resolver.port, resolver.host);
    });
  }

  private forwardTcp(msg: Buffer, resolver: Resolver): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(resolver.port, resolver.host);
      const end = (): void => { socket.destroy(new Error('the DNS guard closed')); };
      this.forwards.add(end);
      socket.on('close', () => this.forwards.delete(end));
      socket.setTimeout(this.opts.timeoutMs ?? 5000, () => socket.destroy(new Error('resolver timed out')));
      const frames = new FrameReader();
      socket.on('data', (chunk: Buffer) => {
        let answer: Buffer | undefined;
        try {
          answer = frames.push(chunk)[0];
        } catch (err) {
          socket.destroy(err as Error);
          return;
        }
        if (answer) {
          socket.end();
          resolve(answer);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('resolver closed the connection')));
      socket.write(frame(msg));
    });
  }

  private serveTcp(socket: net.Socket): void {
    const frames = new FrameReader();
    let pending = 0;
    let ended = false;
    const finish = (): void => { if (ended && pending === 0) socket.end(); };
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('end', () => { ended = true; finish(); });
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = frames.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of messages) {
        pending += 1;
        void this.answer(m, 'tcp').then((out) => {
          pending -= 1;
          if (out && !socket.destroyed) socket.write(frame(out));
          finish();
        });
      }
    });
  }
}

/** DNS over TCP: each message preceded by its length in two octets (RFC 1035 §4.2.2). */
function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 2) {
      const n = this.pending.readUInt16BE(0);
      if (n === 0) throw new Error('empty DNS frame');
      if (this.pending.length < n + 2) break;
      out.push(this.pending.subarray(2, n + 2));
      this.pending = this.pending.subarray(n + 2);
    }
    return out;
  }
}
