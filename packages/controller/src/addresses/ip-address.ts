/**
 * IP addresses as numbers. The allocator does arithmetic on addresses (ranges, "next address",
 * counting), so an address is a `bigint` plus its family; text is only an input and output form.
 *
 * The text form produced here is the one Node prints (`net.SocketAddress`, `socket.localAddress`):
 * RFC 5952 for IPv6, with IPv4-mapped (`::ffff:192.0.2.1`) and IPv4-compatible (`::192.0.2.1`)
 * addresses in mixed notation. Addresses are compared as strings elsewhere (Ingress status, map
 * keys), so every address Pier writes must go through {@link formatIp} or {@link canonicalIp}.
 */

/** Address family: 4 for IPv4, 6 for IPv6. */
export type IpFamily = 4 | 6;

/** A parsed address: its family and its value as an unsigned integer of 32 or 128 bits. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** Number of bits in an address of the family (32 or 128). */
export function addressBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** The largest value an address of the family can have. */
export function maxAddress(family: IpFamily): bigint {
  return (1n << BigInt(addressBits(family))) - 1n;
}

// No leading zeros: `010.0.0.1` is octal to some parsers and decimal to others, so it is refused
// rather than guessed (Go's netip and Node's isIP refuse it too).
const OCTET = /^(?:0|[1-9]\d{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseHextets(text: string): bigint[] | undefined {
  if (text === '') return [];
  const groups: bigint[] = [];
  for (const part of text.split(':')) {
    if (!HEXTET.test(part)) return undefined;
    groups.push(BigInt(`0x${part}`));
  }
  return groups;
}

function parseIPv6(text: string): bigint | undefined {
  // Zones (`fe80::1%eth0`) name an interface, not an address a pool can hand out.
  if (text.includes('%')) return undefined;
  let hex = text;
  let tail: bigint[] = [];
  if (text.includes('.')) {
    // Embedded IPv4 may only be the last 32 bits (`::ffff:192.0.2.1`).
    const colon = text.lastIndexOf(':');
    const v4 = parseIPv4(text.slice(colon + 1));
    if (colon < 0 || v4 === undefined) return undefined;
    hex = text.slice(0, colon + 1);
    if (!hex.endsWith('::')) hex = hex.slice(0, -1);
    tail = [v4 >> 16n, v4 & 0xffffn];
  }
  const halves = hex.split('::');
  if (halves.length > 2) return undefined;
  const head = parseHextets(halves[0] ?? '');
  const rest = halves.length === 2 ? parseHextets(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  const explicit = [...head, ...rest, ...tail];
  // `::` stands for at least one zero group; without it all eight groups must be written.
  if (halves.length === 2 ? explicit.length > 7 : explicit.length !== 8) return undefined;
  const zeros = new Array<bigint>(8 - explicit.length).fill(0n);
  const groups = [...head, ...zeros, ...rest, ...tail];
  return groups.reduce((acc, group) => (acc << 16n) | group, 0n);
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address (with `::` compression and an optional embedded
 * IPv4 tail). Returns undefined for anything else, including surrounding whitespace, IPv4 octets
 * with leading zeros and IPv6 zones (`%eth0`).
 */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // Mixed notation for IPv4-mapped and IPv4-compatible addresses, exactly where Node uses it, so
  // that this module and Node agree on every address (see the module comment).
  const high80Zero = groups.slice(0, 5).every((g) => g === 0);
  if (high80Zero && (groups[5] === 0xffff || (groups[5] === 0 && groups[6] !== 0))) {
    const prefix = groups[5] === 0xffff ? '::ffff:' : '::';
    return prefix + formatIPv4(value & 0xffffffffn);
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/**
 * Canonical text of an address: dotted quad for IPv4; for IPv6 RFC 5952 (lowercase, no leading
 * zeros, longest zero run compressed), as Node prints it.
 */
export function formatIp(family: IpFamily, value: bigint): string {
  return family === 4 ? formatIPv4(value) : formatIPv6(value);
}

/** The canonical text of an address (`2001:DB8:0::1` → `2001:db8::1`), or undefined if invalid. */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : formatIp(ip.family, ip.value);
}

/** Total order for sorting: every IPv4 address before every IPv6 address, then numeric. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}
