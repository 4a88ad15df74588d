// How the egress proxy resolves an allowlisted name before it connects: as the system does, but a
// name that resolves to the node or the pod itself — loopback, link-local (169.254.169.254 is the
// cloud's metadata service), unspecified — or to another cloud metadata address (AWS's over IPv6,
// Alibaba's) is refused. An allowlisted name whose DNS someone else controls (a partner's domain, a
// wildcard over a shared zone) could otherwise be pointed there after it was allowlisted (DNS
// rebinding). Allowlisting such an address as an IP literal, or the name `localhost` itself, still
// reaches it: that is a choice made on purpose. Private addresses (10/8, 192.168/16, fc00::/7…) are
// not refused: in-cluster services and corporate hosts are allowlisted by name and live there, so a
// name whose DNS an attacker could control must not be allowlisted by a wildcard (README).
import { lookup as systemLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const OWN = new BlockList();
OWN.addSubnet('127.0.0.0', 8, 'ipv4');
OWN.addSubnet('169.254.0.0', 16, 'ipv4');
OWN.addSubnet('0.0.0.0', 8, 'ipv4');
OWN.addAddress('::1', 'ipv6');
OWN.addAddress('::', 'ipv6');
OWN.addSubnet('fe80::', 10, 'ipv6');
// Cloud metadata services outside link-local: AWS's IPv6 endpoint (Nitro), Alibaba Cloud's.
OWN.addAddress('fd00:ec2::254', 'ipv6');
OWN.addAddress('100.100.100.200', 'ipv4');

/** Whether `address` is one of the node's or the pod's own (loopback, link-local, unspecified) or a cloud metadata address, IPv4-mapped IPv6 too. */
export function isOwnAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return OWN.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  return family !== 0 && OWN.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

type AllLookup = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** A `lookup` for net.connect and http.request, over `resolve`, that refuses names resolving to the node's or pod's own addresses. */
export function ownAddressGuard(resolve: AllLookup = systemLookup as unknown as AllLookup) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: Callback): void => guardedLookup(resolve, hostname, options, callback);
}

/** The egress proxy's lookup (the system resolver, guarded). */
export const egressLookup = ownAddressGuard();

function guardedLookup(resolve: AllLookup, hostname: string, options: LookupOneOptions | LookupAllOptions, callback: Callback): void {
  resolve(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const own = hostname === 'localhost' ? undefined : addresses.find((a) => isOwnAddress(a.address));
    if (own) {
      const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${own.address}, an address of the node or the pod itself or of the cloud's metadata service (loopback, link-local, metadata): egress refuses it; allowlist the address itself if this is meant`);
      refused.code = 'EGRESS_OWN_ADDRESS';
      return callback(refused, []);
    }
    if ((options as LookupAllOptions).all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
