import { CHAIN_OUTPUT, egressCaptureRules, egressCaptureScript } from '../src/egress-capture.js';

describe('egressCaptureRules', () => {
  const rules = egressCaptureRules({ sidecarUid: 1337, excludeOutboundPorts: [] });
  const joined = rules.ipv4.map((r) => r.join(' '));

  test('all outbound TCP of the pod is redirected to the egress proxy on 15002', () => {
    expect(joined).toContain('-t nat -A OUTPUT -p tcp -j SKILLGATE_OUTPUT');
    expect(joined).toContain('-t nat -A SKILLGATE_REDIRECT -p tcp -j REDIRECT --to-ports 15002');
    expect(joined[joined.length - 1]).toBe('-t nat -A SKILLGATE_OUTPUT -j SKILLGATE_REDIRECT');
  });

  test('only the sidecar UID and loopback are exempt, and the exemptions come before the redirect', () => {
    const returns = joined.filter((r) => r.includes(`-A ${CHAIN_OUTPUT}`) && r.endsWith('-j RETURN'));
    expect(returns).toEqual([
      '-t nat -A SKILLGATE_OUTPUT -m owner --uid-owner 1337 -j RETURN',
      '-t nat -A SKILLGATE_OUTPUT -o lo -j RETURN',
      '-t nat -A SKILLGATE_OUTPUT -d 127.0.0.1/32 -j RETURN',
    ]);
  });

  test('IPv6 TCP from anyone but the sidecar is refused', () => {
    expect(rules.ipv6.map((r) => r.join(' '))).toContain('-t filter -A SKILLGATE_OUTPUT -p tcp -j REJECT --reject-with tcp-reset');
  });

  test('DNS to any resolver, UDP or TCP, goes to the DNS guard on 15053 (after the exemptions, before the egress redirect)', () => {
    const udpJump = joined.indexOf('-t nat -A OUTPUT -p udp --dport 53 -j SKILLGATE_OUTPUT');
    const udp = joined.indexOf('-t nat -A SKILLGATE_OUTPUT -p udp --dport 53 -j REDIRECT --to-ports 15053');
    const tcp = joined.indexOf('-t nat -A SKILLGATE_OUTPUT -p tcp --dport 53 -j REDIRECT --to-ports 15053');
    expect(Math.min(udpJump, udp, tcp)).toBeGreaterThanOrEqual(0);
    expect(udp).toBeGreaterThan(joined.indexOf('-t nat -A SKILLGATE_OUTPUT -o lo -j RETURN'));
    expect(tcp).toBeLessThan(joined.indexOf('-t nat -A SKILLGATE_OUTPUT -j SKILLGATE_REDIRECT'));
    // No rule lets the app's DNS leave the pod as it is.
    expect([...joined, ...rules.ipv6.map((r) => r.join(' '))].filter((r) => r.includes('--dport 53') && r.endsWith('RETURN'))).toEqual([]);
  });

  test('anything but TCP is refused for the app, IPv4 and IPv6, but DNS redirected to the guard; the sidecar and loopback are exempt', () => {
    const head = [
      '-t filter -N SKILLGATE_OTHER',
      '-t filter -A OUTPUT ! -p tcp -j SKILLGATE_OTHER',
      '-t filter -A SKILLGATE_OTHER -m owner --uid-owner 1337 -j RETURN',
      '-t filter -A SKILLGATE_OTHER -o lo -j RETURN',
    ];
    const otherOf = (family: string[][]) => family.map((r) => r.join(' ')).filter((r) => r.includes('SKILLGATE_OTHER'));
    expect(otherOf(rules.ipv4)).toEqual([...head, '-t filter -A SKILLGATE_OTHER -d 127.0.0.1/32 -p udp --dport 15053 -j RETURN', '-t filter -A SKILLGATE_OTHER -j REJECT']);
    expect(otherOf(rules.ipv6)).toEqual([...head, '-t filter -A SKILLGATE_OTHER -j REJECT']);
  });

  test('configured ports are exempt', () => {
    const r = egressCaptureRules({ sidecarUid: 1000, excludeOutboundPorts: [5432] }).ipv4.map((x) => x.join(' '));
    expect(r).toContain('-t nat -A SKILLGATE_OUTPUT -p tcp --dport 5432 -j RETURN');
    expect(r).toContain('-t nat -A SKILLGATE_OUTPUT -m owner --uid-owner 1000 -j RETURN');
  });

  test('the init script applies exactly these rules and fails on the first error', () => {
    const script = egressCaptureScript({ sidecarUid: 1337, excludeOutboundPorts: [] });
    expect(script.startsWith('set -eu\n')).toBe(true);
    const shell = (r: string[]) => r.map((a) => (a === '!' ? "'!'" : a)).join(' ');
    for (const r of rules.ipv4) expect(script).toContain(`iptables -w ${shell(r)}\n`);
    for (const r of rules.ipv6) expect(script).toContain(`ip6tables -w ${shell(r)}\n`);
  });

  test('the script is built once per configuration: another UID or port list gets its own', () => {
    const a = egressCaptureScript({ sidecarUid: 1337, excludeOutboundPorts: [] });
    const b = egressCaptureScript({ sidecarUid: 1337, excludeOutboundPorts: [6379] });
    const c = egressCaptureScript({ sidecarUid: 2000, excludeOutboundPorts: [6379] });
    expect(b).toContain('--dport 6379 -j RETURN');
    expect(a).not.toContain('--dport 6379');
    expect(c).toContain('--uid-owner 2000 -j RETURN');
    expect(c).not.toContain('--uid-owner 1337');
    expect(egressCaptureScript({ sidecarUid: 1337, excludeOutboundPorts: [] })).toBe(a);
    // Port lists that run together as digits are still told apart.
    expect(egressCaptureScript({ sidecarUid: 1337, excludeOutboundPorts: [63, 79] })).toContain('--dport 79 -j RETURN');
    expect(egressCaptureScript({ sidecarUid: 1337, excludeOutboundPorts: [637, 9] })).not.toContain('--dport 79 ');
  });
});
