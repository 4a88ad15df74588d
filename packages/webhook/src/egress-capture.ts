// The egress capture of an injected pod, as data: the exact iptables/ip6tables rules the
// `skillgate-init` container applies, Istio-style. Every outbound TCP connection of the pod is
// redirected (nat OUTPUT, REDIRECT) to the sidecar's egress proxy on 15002, except traffic of the
// sidecar's own UID (it must reach Claude, the controller and Redis) and loopback traffic (the skill
// reaches the sidecar on 127.0.0.1). DNS (UDP and TCP port 53, to any address) is redirected to the
// sidecar's DNS guard on 15053, which resolves only names the skill may reach and answers the rest
// itself: a query that a recursive resolver forwards would otherwise carry data out. IPv6 TCP is
// refused outright: the proxy listens on IPv4 only. Everything else that is not TCP (UDP such as
// QUIC, ICMP, SCTP, DNS over IPv6) is refused for the app, IPv4 and IPv6.
// A network-namespace test applies exactly these rules, so this module is the single source of truth.
// It must never emit a rule that exempts anything but the sidecar UID, loopback and configured ports.
import { PORTS } from '@skillgate/api';

export interface EgressCaptureConfig {
  sidecarUid: number;
  excludeOutboundPorts: number[];
}

/** Rules as argv lists: `iptables` gets each of `ipv4`, `ip6tables` each of `ipv6`. */
export interface EgressCaptureRules {
  ipv4: string[][];
  ipv6: string[][];
}

export const CHAIN_OUTPUT = 'SKILLGATE_OUTPUT';
export const CHAIN_REDIRECT = 'SKILLGATE_REDIRECT';
export const CHAIN_OTHER = 'SKILLGATE_OTHER';

export function egressCaptureRules(config: EgressCaptureConfig): EgressCaptureRules {
  const uid = String(config.sidecarUid);
  const exempt = (table: string): string[][] => [
    // The sidecar's own connections leave the pod as they are.
    ['-t', table, '-A', CHAIN_OUTPUT, '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN'],
    // Loopback: the skill talks to the sidecar on 127.0.0.1:15001/15002.
    ['-t', table, '-A', CHAIN_OUTPUT, '-o', 'lo', '-j', 'RETURN'],
    ...config.excludeOutboundPorts.map((p) => ['-t', table, '-A', CHAIN_OUTPUT, '-p', 'tcp', '--dport', String(p), '-j', 'RETURN']),
  ];
  // Not TCP: only the sidecar and loopback leave, and DNS redirected to the guard (IPv4: the filter
  // table still sees such a packet's original interface, but its rewritten address and port).
  const other = (extra: string[][]): string[][] => [
    ['-t', 'filter', '-N', CHAIN_OTHER],
    ['-t', 'filter', '-A', 'OUTPUT', '!', '-p', 'tcp', '-j', CHAIN_OTHER],
    ['-t', 'filter', '-A', CHAIN_OTHER, '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN'],
    ['-t', 'filter', '-A', CHAIN_OTHER, '-o', 'lo', '-j', 'RETURN'],
    ...extra,
    ['-t', 'filter', '-A', CHAIN_OTHER, '-j', 'REJECT'],
  ];
  const ipv4 = [
    ...other([['-t', 'filter', '-A', CHAIN_OTHER, '-d', '127.0.0.1/32', '-p', 'udp', '--dport', String(PORTS.dns), '-j', 'RETURN']]),
    ['-t', 'nat', '-N', CHAIN_REDIRECT],
    ['-t', 'nat', '-A', CHAIN_REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(PORTS.egress)],
    ['-t', 'nat', '-N', CHAIN_OUTPUT],
    ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-j', CHAIN_OUTPUT],
    ['-t', 'nat', '-A', 'OUTPUT', '-p', 'udp', '--dport', '53', '-j', CHAIN_OUTPUT],
    ...exempt('nat'),
    // DNS to any resolver: to the guard.
    ['-t', 'nat', '-A', CHAIN_OUTPUT, '-p', 'udp', '--dport', '53', '-j', 'REDIRECT', '--to-ports', String(PORTS.dns)],
    ['-t', 'nat', '-A', CHAIN_OUTPUT, '-p', 'tcp', '--dport', '53', '-j', 'REDIRECT', '--to-ports', String(PORTS.dns)],
    ['-t', 'nat', '-A', CHAIN_OUTPUT, '-d', '127.0.0.1/32', '-j', 'RETURN'],
    ['-t', 'nat', '-A', CHAIN_OUTPUT, '-j', CHAIN_REDIRECT],
  ];
  const ipv6 = [
    ['-t', 'filter', '-N', CHAIN_OUTPUT],
    ['-t', 'filter', '-A', 'OUTPUT', '-p', 'tcp', '-j', CHAIN_OUTPUT],
    ...exempt('filter'),
    ['-t', 'filter', '-A', CHAIN_OUTPUT, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ...other([]),
  ];
  return { ipv4, ipv6 };
}

const shellQuote = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * The init container's script: applies the rules, failing the pod start if IPv4 capture fails
 * (fail closed). IPv6 rules are applied when the kernel has IPv6 in the pod; a pod without IPv6 has
 * no IPv6 egress to capture.
 */
export function egressCaptureScript(config: EgressCaptureConfig): string {
  // Every injected pod gets the same script for one configuration: built once (it was ~7 % of the
  // webhook's CPU per admission, BENCHMARKS.md), then rebuilt only when the configuration differs.
  const key = `${config.sidecarUid}|${config.excludeOutboundPorts.join(',')}`;
  if (lastScript?.key !== key) lastScript = { key, script: buildScript(config) };
  return lastScript.script;
}

let lastScript: { key: string; script: string } | undefined;

function buildScript(config: EgressCaptureConfig): string {
  const rules = egressCaptureRules(config);
  const lines = ['set -eu', ...rules.ipv4.map((r) => `iptables -w ${r.map(shellQuote).join(' ')}`)];
  lines.push('if [ -e /proc/net/if_inet6 ]; then');
  lines.push(...rules.ipv6.map((r) => `  ip6tables -w ${r.map(shellQuote).join(' ')}`));
  lines.push('fi');
  lines.push(`echo "skillgate-init: outbound TCP captured to 127.0.0.1:${PORTS.egress}, DNS to 127.0.0.1:${PORTS.dns}, other protocols refused (uid ${config.sidecarUid} exempt)"`);
  return `${lines.join('\n')}\n`;
}
