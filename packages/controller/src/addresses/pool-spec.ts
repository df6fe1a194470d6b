/**
 * The address part of an IPAddressPool: `spec.addresses` entries parsed into numeric ranges.
 * Parsing reports every bad entry by name and keeps the good ones, so one typo costs only itself.
 */
import { addressBits, compareIp, formatIp, type IpFamily, parseIp } from './ip-address.ts';

/** An inclusive range of addresses of one family, with the `spec.addresses` entry it came from. */
export interface IpRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
  /** The entry as the operator wrote it, for messages. */
  readonly source: string;
}

/** A pool as the allocator sees it, built from an IPAddressPool object. */
export interface PoolSpec {
  /** The IPAddressPool's name (cluster-scoped, so unique). */
  readonly name: string;
  readonly ranges: readonly IpRange[];
  /** Whether Ingresses that name no pool and request no address may get addresses from it. */
  readonly autoAssign: boolean;
  /** Skip IPv4 addresses ending in .0 or .255 (see {@link isBuggyIPv4}). */
  readonly avoidBuggyIPs: boolean;
}

/** Result of {@link parsePoolAddresses}: the valid ranges in entry order, and one error per bad entry. */
export interface ParsedPoolAddresses {
  ranges: IpRange[];
  errors: string[];
}

const PREFIX_LENGTH = /^(?:0|[1-9]\d{0,2})$/;

function parseEntry(entry: string): IpRange | string {
  const text = entry.trim();
  if (text === '') return 'empty entry';
  if (text.includes('-')) return parseRange(text, entry);
  if (text.includes('/')) return parseCidr(text, entry);
  return 'not a CIDR or range (write 192.0.2.0/24 or 192.0.2.10-192.0.2.20)';
}

function parseCidr(text: string, source: string): IpRange | string {
  const slash = text.indexOf('/');
  const addressText = text.slice(0, slash);
  const ip = parseIp(addressText);
  if (ip === undefined) return `${JSON.stringify(addressText)} is not an IP address`;
  const bits = addressBits(ip.family);
  const lengthText = text.slice(slash + 1);
  const length = PREFIX_LENGTH.test(lengthText) ? Number(lengthText) : Number.NaN;
  if (!(length <= bits)) return `prefix length must be 0-${bits}`;
  // Host bits set (192.0.2.7/24) are dropped rather than refused, as Go's net.ParseCIDR (and so
  // MetalLB) does: the operator evidently meant the network, and refusing would take the pool down.
  const hostBits = BigInt(bits - length);
  const first = (ip.value >> hostBits) << hostBits;
  const last = first | ((1n << hostBits) - 1n);
  return { family: ip.family, first, last, source };
}

function parseRange(text: string, source: string): IpRange | string {
  const parts = text.split('-').map((part) => part.trim());
  if (parts.length !== 2) return 'a range has exactly one "-"';
  const [startText = '', endText = ''] = parts;
  const start = parseIp(startText);
  if (start === undefined) return `range start ${JSON.stringify(startText)} is not an IP address`;
  const end = parseIp(endText);
  if (end === undefined) return `range end ${JSON.stringify(endText)} is not an IP address`;
  if (start.family !== end.family) return 'range mixes IPv4 and IPv6';
  if (start.value > end.value) {
    const from = formatIp(start.family, start.value);
    return `range start ${from} is after range end ${formatIp(end.family, end.value)}`;
  }
  return { family: start.family, first: start.value, last: end.value, source };
}

/**
 * Parses `spec.addresses`: each entry is a CIDR (`192.0.2.0/28`, `2001:db8::/120`) or an inclusive
 * range `a-b` of one family (spaces around `-` allowed). A CIDR with host bits set is normalized to
 * its network (`192.0.2.7/24` → `192.0.2.0/24`). Each bad entry yields one error of the form
 * `"<entry>": <what is wrong>`; the other entries are still returned.
 */
export function parsePoolAddresses(entries: readonly string[]): ParsedPoolAddresses {
  const ranges: IpRange[] = [];
  const errors: string[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') errors.push(`${JSON.stringify(entry)}: ${parsed}`);
    else ranges.push(parsed);
  }
  return { ranges, errors };
}

/** Number of addresses in the range (a `bigint`: an IPv6 range can exceed 2^53). */
export function rangeSize(range: IpRange): bigint {
  return range.last - range.first + 1n;
}

/** Whether two ranges share at least one address. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** Whether the range holds the address. */
export function rangeContains(range: IpRange, family: IpFamily, value: bigint): boolean {
  return range.family === family && range.first <= value && value <= range.last;
}

/** The range as `first-last` in canonical text (or a single address when first equals last). */
export function formatRange(range: IpRange): string {
  const first = formatIp(range.family, range.first);
  return range.first === range.last ? first : `${first}-${formatIp(range.family, range.last)}`;
}

/**
 * Whether an IPv4 address ends in .0 or .255. Some old client stacks treat such addresses as
 * network or broadcast addresses whatever the real prefix, so MetalLB's avoidBuggyIPs skips them
 * in every /24 regardless of the pool's prefix length; Pier does the same.
 */
export function isBuggyIPv4(value: bigint): boolean {
  const low = value & 0xffn;
  return low === 0n || low === 0xffn;
}

/** How many addresses in the IPv4 range [first, last] end in .0 or .255. */
export function countBuggyIPv4(first: bigint, last: bigint): bigint {
  // Multiples of 256 in [a, b] number floor(b/256) - ceil(a/256) + 1; the .255 addresses are the
  // values whose successor is such a multiple. Values are non-negative, so `/` is floor here.
  const multiples = (a: bigint, b: bigint): bigint => b / 256n - (a + 255n) / 256n + 1n;
  return multiples(first, last) + multiples(first + 1n, last + 1n);
}

/**
 * The ranges sorted (IPv4 first, then by first address) with overlapping and adjacent ranges of a
 * family merged, so that walking them visits each address once and in numeric order. A merged
 * range keeps the source of its first part.
 */
export function mergeRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) =>
    compareIp({ family: a.family, value: a.first }, { family: b.family, value: b.first }),
  );
  const merged: IpRange[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && last.family === range.family && range.first <= last.last + 1n) {
      if (range.last > last.last) merged[merged.length - 1] = { ...last, last: range.last };
    } else {
      merged.push(range);
    }
  }
  return merged;
}

/** The first overlapping pair between two range lists, and the addresses they share. */
export interface RangeOverlap {
  mine: IpRange;
  theirs: IpRange;
  shared: IpRange;
}

/** Finds the first range of `mine` that overlaps a range of `theirs`, in list order. */
export function findOverlap(
  mine: readonly IpRange[],
  theirs: readonly IpRange[],
): RangeOverlap | undefined {
  for (const a of mine) {
    const b = theirs.find((range) => rangesOverlap(a, range));
    if (b === undefined) continue;
    // Math.max/min do not take bigints.
    let first = a.first;
    if (b.first > first) first = b.first;
    let last = a.last;
    if (b.last < last) last = b.last;
    return { mine: a, theirs: b, shared: { family: a.family, first, last, source: '' } };
  }
  return undefined;
}
