// Which destinations the egress proxy lets the skill reach: host or host:port patterns, where a
// leading `*.` matches any subdomain (not the apex) and a missing port matches any port. Pure.

import { isIP } from 'node:net';
import { isHostName } from '@skillgate/api';

export interface Destination {
  host: string;
  port: number;
}

export function parseAuthority(authority: string, defaultPort: number): Destination | undefined {
  const m = /^\[?([^\]]+?)\]?(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = destinationHost(m[1]!);
  return host === undefined ? undefined : { host, port };
}

const IPV6 = /^[0-9a-f:.]+$/;

/**
 * A destination's host as the allowlist compares it — lower case, without one trailing dot — or
 * undefined when it is no host name or IP literal. A name that carries anything else (a NUL, which
 * the resolver would cut the name at; '?', '@', '#', '\\', ':' inside, spaces) would match a
 * wildcard rule by its ending while the connection went to what precedes it.
 */
export function destinationHost(raw: string): string | undefined {
  const host = raw.toLowerCase().replace(/\.$/, '');
  if (isHostName(host)) return host;
  return host.includes(':') && IPV6.test(host) && isIP(host) === 6 ? host : undefined;
}

export class EgressAllowlist {
  private readonly rules: Array<{ host: string; wildcard: boolean; port?: number }>;

  constructor(patterns: readonly string[]) {
    this.rules = patterns.map((p) => {
      const [hostPart, portPart] = splitPattern(p.trim().toLowerCase());
      const wildcard = hostPart.startsWith('*.');
      // `host:*` (the CRD allows it) is any port, as no port is.
      return { host: wildcard ? hostPart.slice(1) : hostPart, wildcard, ...(portPart && portPart !== '*' ? { port: Number(portPart) } : {}) };
    });
  }

  /** Whether some port of this host is allowed (what a DNS name needs: it has no port). */
  allowsHost(host: string): boolean {
    return this.rules.some((r) => hostMatches(r, host));
  }

  /** Whether an entry names this host itself (not only a wildcard over it). */
  namesHost(host: string): boolean {
    return this.rules.some((r) => !r.wildcard && r.host === host);
  }

  allows(dest: Destination): boolean {
    return this.rules.some((r) => (r.port === undefined || r.port === dest.port) && hostMatches(r, dest.host));
  }
}

/** `*.example.com` matches any subdomain (not the apex); anything else the host exactly. */
function hostMatches(rule: { host: string; wildcard: boolean }, host: string): boolean {
  return rule.wildcard ? host.endsWith(rule.host) && host.length > rule.host.length : host === rule.host;
}

function splitPattern(p: string): [string, string | undefined] {
  if (p.startsWith('[')) {
    const end = p.indexOf(']');
    return [p.slice(1, end), p[end + 1] === ':' ? p.slice(end + 2) : undefined];
  }
  const colon = p.lastIndexOf(':');
  return colon > 0 && p.indexOf(':') === colon ? [p.slice(0, colon), p.slice(colon + 1)] : [p, undefined];
}
