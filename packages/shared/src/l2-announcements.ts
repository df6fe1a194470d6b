/**
 * The L2 contract between controller and dataplanes: which external addresses are announced at
 * layer 2, on which interfaces and by which nodes (the controller knows pools, Node labels and
 * allocations; the dataplanes have no API access), and the text of an address's lease.
 *
 * Stored as canonical JSON under `l2AnnouncementsKey()` (docs/redis-keyspace.md). Decoding keeps
 * every valid entry and reports the others, like the route table's decoder: one bad entry never
 * stops the announcement of the rest.
 */
import { canonicalIp } from './ip-address.ts';

/** One address to announce in L2 mode. */
export interface L2Announcement {
  /** Canonical text (`canonicalIp`). */
  readonly address: string;
  /** The IPAddressPool it was allocated from. */
  readonly pool: string;
  /**
   * Interfaces to put the address on, in the pool's order (the first one that is up is used).
   * Empty: the interface of the node's route to the address.
   */
  readonly interfaces: readonly string[];
  /** Nodes whose labels match the pool's `spec.l2.nodeSelector`, sorted. */
  readonly nodes: readonly string[];
}

/** What the controller publishes: every announced address, sorted by address. */
export interface L2Announcements {
  readonly addresses: readonly L2Announcement[];
}

/** Result of {@link decodeL2Announcements}: the valid entries and one problem per dropped one. */
export interface DecodedL2Announcements {
  announcements: L2Announcements;
  problems: string[];
}

/**
 * A Linux interface name: 1 to 15 characters of the CRD's pattern, and not `.` or `..`. The name
 * ends up in `ip` arguments and in `/sys/class/net/<name>` paths, so this is checked again here
 * rather than trusted from the API server.
 */
export function isInterfaceName(name: string): boolean {
  return /^[a-zA-Z0-9_.:-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

function isNodeName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name.length <= 253 && !/\s/.test(name);
}

/** Canonical JSON: entries sorted by address, lists sorted where order carries no meaning. */
export function encodeL2Announcements(value: L2Announcements): string {
  const addresses = [...value.addresses]
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
    .map((a) => ({
      address: a.address,
      interfaces: [...a.interfaces],
      nodes: [...a.nodes].sort(),
      pool: a.pool,
    }));
  return JSON.stringify({ addresses });
}

function decodeEntry(entry: unknown): L2Announcement | string {
  if (typeof entry !== 'object' || entry === null) return 'not an object';
  const e = entry as Record<string, unknown>;
  const address = typeof e.address === 'string' ? canonicalIp(e.address) : undefined;
  if (address === undefined || address !== e.address) {
    return `address ${JSON.stringify(e.address)} is not a canonical IP address`;
  }
  if (typeof e.pool !== 'string' || e.pool === '') return `${address}: pool missing`;
  if (!Array.isArray(e.interfaces) || !e.interfaces.every((i) => typeof i === 'string')) {
    return `${address}: interfaces must be a list of names`;
  }
  const badInterface = e.interfaces.find((i) => !isInterfaceName(i));
  if (badInterface !== undefined) {
    return `${address}: ${JSON.stringify(badInterface)} is not an interface name`;
  }
  if (!Array.isArray(e.nodes) || !e.nodes.every(isNodeName)) {
    return `${address}: nodes must be a list of node names`;
  }
  return {
    address,
    pool: e.pool,
    interfaces: Object.freeze([...(e.interfaces as string[])]),
    nodes: Object.freeze([...e.nodes].sort()),
  };
}

/**
 * Decodes the published text. A text that is not JSON of the right shape yields no addresses
 * and one problem; a bad entry (or a second entry for the same address) is dropped by itself.
 */
export function decodeL2Announcements(text: string): DecodedL2Announcements {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { announcements: { addresses: [] }, problems: ['not JSON'] };
  }
  const list = (parsed as { addresses?: unknown } | null)?.addresses;
  if (!Array.isArray(list)) {
    return { announcements: { addresses: [] }, problems: ['no addresses list'] };
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const addresses: L2Announcement[] = [];
  for (const entry of list) {
    const decoded = decodeEntry(entry);
    if (typeof decoded === 'string') problems.push(decoded);
    else if (seen.has(decoded.address)) problems.push(`${decoded.address}: listed twice`);
    else {
      seen.add(decoded.address);
      addresses.push(decoded);
    }
  }
  return { announcements: { addresses }, problems };
}

/** The holder of an address's lease as stored in `vipLeaseKey(address)`. */
export interface L2Lease {
  /** Fencing epoch: incremented by every acquisition of this address. */
  readonly epoch: number;
  /** The holder's node name. */
  readonly node: string;
  /** A random token of the holding process, so a restarted process never renews its ghost. */
  readonly token: string;
}

/** `<epoch> <node> <token>`; node names and tokens hold no whitespace. */
export function formatL2Lease(lease: L2Lease): string {
  return `${lease.epoch} ${lease.node} ${lease.token}`;
}

/** The lease in a key's value, or undefined for anything else. */
export function parseL2Lease(value: string | null | undefined): L2Lease | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = value.split(' ');
  if (parts.length !== 3) return undefined;
  const [epochText = '', node = '', token = ''] = parts;
  if (!/^[1-9]\d{0,15}$/.test(epochText) || node === '' || token === '') return undefined;
  return { epoch: Number(epochText), node, token };
}
