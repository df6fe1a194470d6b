/**
 * IP address text forms. Addresses are compared as strings (map keys, virtual-host keys), so
 * everything Pier publishes uses one canonical form: the one Node itself reports for
 * `socket.localAddress` (lowercase, RFC 5952 zero compression for IPv6).
 */
import { isIP, SocketAddress } from 'node:net';

/**
 * The canonical text form of an IP address (`2001:DB8:0::1` → `2001:db8::1`), or undefined when
 * the text is not an IP address. IPv4 text must already be plain dotted decimal.
 */
export function canonicalIp(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  if (family === 4) return address;
  return new SocketAddress({ address, family: 'ipv6' }).address;
}

const MAPPED_PREFIX = '::ffff:';

/**
 * Strips the IPv4-mapped prefix that a dual-stack socket reports for IPv4 peers and local
 * addresses (`::ffff:192.0.2.1` → `192.0.2.1`); returns other addresses unchanged.
 */
export function unmapIPv4(address: string): string {
  if (address.startsWith(MAPPED_PREFIX) && address.includes('.', MAPPED_PREFIX.length)) {
    return address.slice(MAPPED_PREFIX.length);
  }
  return address;
}
