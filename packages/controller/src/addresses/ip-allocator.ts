/**
 * External IP allocation for Ingresses, as pure state: no API client, no clock, no I/O. The
 * controller feeds it pools and Ingress status and writes back what it returns (modelled on
 * MetalLB's internal/allocator).
 *
 * Vocabulary: an **owner** is an Ingress (`namespace/name`). Addresses are held by a **sharing
 * key** within a pool; every owner with the same key in the same pool gets the key's addresses.
 * The default key `""` is shared by every Ingress that sets none, so by default the whole class
 * shares one address per pool, like one cloud load balancer in front of an ingress controller.
 *
 * Invariant: an address is held by at most one key. In-use addresses are tracked globally, not
 * per pool, so overlapping pools cannot hand the same address out twice.
 */
import { compareIp, formatIp, type IpAddress, type IpFamily, parseIp } from './ip-address.ts';
import {
  countBuggyIPv4,
  findOverlap,
  formatRange,
  type IpRange,
  isBuggyIPv4,
  mergeRanges,
  type PoolSpec,
  type RangeOverlap,
  rangeContains,
  rangeSize,
} from './pool-spec.ts';
import { UsedRuns } from './used-runs.ts';

/** The sharing key of Ingresses that set no `pier.dev/ip-sharing-key`. */
export const DEFAULT_SHARING_KEY = '';

/** Why {@link IpAllocator.assign} gave no address. Stable: callers branch on it. */
export type AllocationErrorCode =
  | 'PIER_POOL_EXHAUSTED'
  | 'PIER_ADDRESS_OUTSIDE_POOLS'
  | 'PIER_ADDRESS_HELD'
  | 'PIER_UNKNOWN_POOL'
  | 'PIER_INVALID_ADDRESS'
  | 'PIER_NO_POOL'
  | 'PIER_POOL_NOT_ALLOWED'
  | 'PIER_SHARING_CONFLICT';

/**
 * What an owner that shares its addresses uses of them (Services: MetalLB's rule). Owners of one
 * key share only when no port is used twice and they agree on the traffic policy; with policy
 * `Local` they must also select the same pods, since only nodes with a local endpoint announce.
 */
export interface SharingTerms {
  /** `PROTOCOL/port`, e.g. `TCP/80`. */
  readonly ports: readonly string[];
  /** externalTrafficPolicy: `Cluster` or `Local`. */
  readonly trafficPolicy: string;
  /** The pods served, in a canonical form (a Service's selector); compared under `Local`. */
  readonly selector: string;
}

/** What one Ingress asks for. */
export interface AllocationRequest {
  /** The Ingress, `namespace/name`. */
  readonly owner: string;
  /** Its sharing key; {@link DEFAULT_SHARING_KEY} when it sets none. */
  readonly key: string;
  /** The pool named by `pier.dev/address-pool`, if any. */
  readonly pool?: string | undefined;
  /** Addresses from `pier.dev/load-balancer-ips`, if any; an empty list means none. */
  readonly requested?: readonly string[] | undefined;
  /**
   * The pools this owner may use, in order of preference; undefined = every pool, by name.
   * A named pool outside the list is refused (PIER_POOL_NOT_ALLOWED).
   */
  readonly allowedPools?: readonly string[] | undefined;
  /**
   * One address of each family, all from one pool (a dual-stack Service); undefined = one
   * address of either family, IPv4 first (an Ingress).
   */
  readonly families?: readonly IpFamily[] | undefined;
  /** Families given only when the pool has a free address of them (PreferDualStack). */
  readonly optionalFamilies?: readonly IpFamily[] | undefined;
  /** Checked against every other owner of the key's addresses before joining them. */
  readonly sharing?: SharingTerms | undefined;
}

/**
 * Outcome of {@link IpAllocator.assign}. On success `addresses` are canonical and sorted (IPv4
 * first) and `changed` says whether they differ from what the owner held before, i.e. whether
 * status needs writing. A failure changes nothing: the owner keeps what it held, and the caller
 * decides whether to {@link IpAllocator.release} it.
 */
export type AllocationResult =
  | { ok: true; addresses: string[]; pool: string; changed: boolean }
  | { ok: false; code: AllocationErrorCode; message: string };

/** A pool whose ranges overlap another pool's (reported for both pools). */
export interface PoolProblem {
  pool: string;
  code: 'PIER_POOL_OVERLAP';
  /** Names the other pool and the shared range. */
  message: string;
}

/** One Ingress's status as found at start-up. */
export interface RestoreEntry {
  readonly owner: string;
  readonly key: string;
  readonly pool?: string | undefined;
  readonly addresses: readonly string[];
  readonly sharing?: SharingTerms | undefined;
}

/** An address an Ingress's status claims but another sharing key already holds. */
export interface RestoreConflict {
  owner: string;
  address: string;
  /** The sharing key that keeps the address. */
  heldBy: string;
}

/** Who holds an address. */
export interface AddressHolder {
  key: string;
  /** The pool it was given from ("" if restored from status and in no pool at the time). */
  pool: string;
  /** Sorted. */
  owners: string[];
}

/** An in-use address that no current pool contains (its pool was removed or shrunk). */
export interface OrphanedAddress {
  address: string;
  key: string;
  owners: string[];
}

/**
 * Counts for a pool's status. `size` is the number of addresses the pool can give out (without
 * .0/.255 when avoidBuggyIPs); it comes from a `bigint` through `Number()`, so an IPv6 pool
 * larger than 2^53 reports an approximate (still huge) size. `assigned` counts every in-use
 * address inside the pool, including ones held through an overlapping pool.
 */
export interface PoolStats {
  pool: string;
  size: number;
  assigned: number;
  available: number;
}

interface Holding {
  readonly ip: IpAddress;
  readonly key: string;
  readonly pool: string;
  readonly owners: Set<string>;
}

interface OwnerRecord {
  readonly key: string;
  readonly pool: string;
  readonly addresses: readonly string[];
  readonly sharing: SharingTerms | undefined;
}

interface Pool {
  readonly spec: PoolSpec;
  /** The spec's ranges merged and sorted (IPv4 first), so walking them visits addresses in order. */
  readonly ranges: readonly IpRange[];
  readonly size: bigint;
}

interface Candidate {
  readonly address: string;
  readonly ip: IpAddress;
}

/** What {@link IpAllocator.detach} took away, enough to put it back exactly. */
interface Detached {
  readonly record: OwnerRecord;
  readonly candidates: readonly Candidate[];
  /** The pool each address was attributed to. */
  readonly pools: readonly string[];
  readonly freed: string[];
}

function byName(a: Pool, b: Pool): number {
  return a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function describeKey(key: string): string {
  return key === DEFAULT_SHARING_KEY ? 'the default sharing key' : `sharing key "${key}"`;
}

function familyList(families: readonly IpFamily[]): string {
  return families.map((f) => `IPv${f}`).join(' and ');
}

function fail(code: AllocationErrorCode, message: string): AllocationResult {
  return { ok: false, code, message };
}

function buildPool(spec: PoolSpec): Pool {
  const ranges = mergeRanges(spec.ranges);
  let size = 0n;
  for (const range of ranges) {
    size += rangeSize(range);
    if (spec.avoidBuggyIPs && range.family === 4) size -= countBuggyIPv4(range.first, range.last);
  }
  return { spec, ranges, size };
}

function contains(pool: Pool, ip: IpAddress): boolean {
  return pool.ranges.some((range) => rangeContains(range, ip.family, ip.value));
}

/** Whether the pool hands the address out on its own (requested addresses bypass this). */
function countsInSize(pool: Pool, ip: IpAddress): boolean {
  return !(pool.spec.avoidBuggyIPs && ip.family === 4 && isBuggyIPv4(ip.value));
}

function overlapProblems(pools: readonly Pool[]): PoolProblem[] {
  const problems: PoolProblem[] = [];
  const problem = (pool: Pool, other: Pool, overlap: RangeOverlap): PoolProblem => ({
    pool: pool.spec.name,
    code: 'PIER_POOL_OVERLAP',
    message:
      `overlaps address pool "${other.spec.name}": ${JSON.stringify(overlap.mine.source)} and ` +
      `${JSON.stringify(overlap.theirs.source)} share ${formatRange(overlap.shared)}; ` +
      'each address is still given out only once',
  });
  for (const [i, a] of pools.entries()) {
    for (const b of pools.slice(i + 1)) {
      const overlap = findOverlap(a.spec.ranges, b.spec.ranges);
      if (overlap === undefined) continue;
      const reverse = { mine: overlap.theirs, theirs: overlap.mine, shared: overlap.shared };
      problems.push(problem(a, b, overlap), problem(b, a, reverse));
    }
  }
  return problems.sort((x, y) => (x.pool < y.pool ? -1 : x.pool > y.pool ? 1 : 0));
}

/**
 * Pure, deterministic IP address allocator. Call {@link setPools}, then {@link restore} with
 * every existing Ingress status, and only then {@link assign}: a restart must change no address.
 */
export class IpAllocator {
  private pools = new Map<string, Pool>();
  private sortedPools: Pool[] = [];
  private readonly holdings = new Map<string, Holding>();
  private readonly owners = new Map<string, OwnerRecord>();
  /** `[pool, key]` → addresses the key holds that were given from that pool. */
  private readonly keyIndex = new Map<string, Set<string>>();
  private readonly used: Record<IpFamily, UsedRuns> = { 4: new UsedRuns(), 6: new UsedRuns() };

  /**
   * Replaces the pool set. Held addresses are never revoked or moved: those that fall outside
   * every pool are reported by {@link orphans}. Returns a problem for each pool (both sides)
   * whose ranges overlap another pool's. Pool names are unique; a repeated name is ignored.
   *
   * Each held address stays attributed to the pool it came from, by name; a new owner joining a
   * key in that pool gets the key's address even if the pool has shrunk past it, so that the
   * key's Ingresses keep sharing one address.
   */
  setPools(pools: readonly PoolSpec[]): PoolProblem[] {
    this.pools = new Map();
    for (const spec of pools)
      if (!this.pools.has(spec.name)) this.pools.set(spec.name, buildPool(spec));
    this.sortedPools = [...this.pools.values()].sort(byName);
    return overlapProblems(this.sortedPools);
  }

  /**
   * Rebuilds holdings from Ingress status found at start-up, before anything is assigned. Entries
   * are applied in order (the caller sorts by creationTimestamp, then namespace/name), so when two
   * sharing keys claim one address the earlier entry keeps it; the later claim is returned as a
   * conflict and not recorded (its other addresses are). Text that is not an IP address is skipped.
   * A later entry for an owner already present replaces what that owner held. Restoring adds
   * to the current state; use a fresh allocator for a full rebuild.
   */
  restore(entries: readonly RestoreEntry[]): RestoreConflict[] {
    const conflicts: RestoreConflict[] = [];
    for (const entry of entries) {
      this.detach(entry.owner);
      const kept = new Map<string, Candidate>();
      for (const text of entry.addresses) {
        const ip = parseIp(text);
        if (ip === undefined) continue;
        const address = formatIp(ip.family, ip.value);
        const holder = this.holdings.get(address);
        if (holder !== undefined && holder.key !== entry.key) {
          conflicts.push({ owner: entry.owner, address, heldBy: holder.key });
        } else {
          kept.set(address, { address, ip });
        }
      }
      if (kept.size === 0) continue;
      const candidates = [...kept.values()].sort((a, b) => compareIp(a.ip, b.ip));
      const tags = candidates.map(
        (c) => this.holdings.get(c.address)?.pool ?? entry.pool ?? this.poolTagFor(c.ip),
      );
      this.commit(
        { owner: entry.owner, key: entry.key, sharing: entry.sharing },
        entry.pool ?? tags[0] ?? '',
        candidates,
        tags,
      );
    }
    return conflicts;
  }

  /**
   * Gives the owner addresses for its sharing key, or explains why not. Idempotent: while the
   * owner's key, pool and requested addresses are unchanged it returns what the owner holds, even
   * if that address has since left every pool.
   */
  assign(request: AllocationRequest): AllocationResult {
    const requested = this.normalize(request.requested ?? []);
    if (typeof requested === 'string') return fail('PIER_INVALID_ADDRESS', requested);
    const current = this.owners.get(request.owner);
    if (current !== undefined && this.stillFits(current, request, requested)) {
      return { ok: true, addresses: [...current.addresses], pool: current.pool, changed: false };
    }
    if (request.pool !== undefined && !this.pools.has(request.pool)) {
      return fail('PIER_UNKNOWN_POOL', `address pool "${request.pool}" does not exist`);
    }
    if (
      request.pool !== undefined &&
      !this.allowed(request).some((p) => p.spec.name === request.pool)
    ) {
      return fail(
        'PIER_POOL_NOT_ALLOWED',
        `address pool "${request.pool}" does not serve this object (see its allocateTo and serviceAllocation)`,
      );
    }
    const wrongFamily = requested.find(
      (c) => request.families !== undefined && !this.wantedFamilies(request).includes(c.ip.family),
    );
    if (wrongFamily !== undefined) {
      const message = `requested address ${wrongFamily.address} is IPv${wrongFamily.ip.family}, not of the families asked for (${familyList(request.families ?? [])})`;
      return fail('PIER_INVALID_ADDRESS', message);
    }
    const unrequested =
      requested.length === 0
        ? undefined
        : request.families?.find((f) => !requested.some((c) => c.ip.family === f));
    if (unrequested !== undefined) {
      const message = `requested addresses ${requested.map((c) => c.address).join(', ')} have no IPv${unrequested} address, and ${familyList(request.families ?? [])} are required; request one of each family`;
      return fail('PIER_INVALID_ADDRESS', message);
    }
    if (
      request.pool === undefined &&
      requested.length === 0 &&
      this.autoPools(request).length === 0
    ) {
      return fail(
        'PIER_NO_POOL',
        request.allowedPools === undefined
          ? 'no address pool has autoAssign enabled; name a pool explicitly'
          : 'no address pool with autoAssign enabled serves this object; name a pool explicitly',
      );
    }
    // Hand back what the owner held first, so that a sole owner moving to a new key or pool
    // can get the same address again; put it back if the new assignment fails.
    const detached = this.detach(request.owner);
    const result =
      requested.length > 0 ? this.assignRequested(request, requested) : this.assignAuto(request);
    if (!result.ok) {
      if (detached !== undefined) this.reattach(request.owner, detached);
      return result;
    }
    result.changed = !sameList(detached?.record.addresses ?? [], result.addresses);
    return result;
  }

  /** Removes the owner; returns the addresses it was the last owner of, which are now free. */
  release(owner: string): { freed: string[] } {
    return { freed: this.detach(owner)?.freed ?? [] };
  }

  /** Who holds the address (any text form), or undefined when it is free or not an address. */
  holderOf(address: string): AddressHolder | undefined {
    const ip = parseIp(address);
    const holding = ip === undefined ? undefined : this.holdings.get(formatIp(ip.family, ip.value));
    if (holding === undefined) return undefined;
    return { key: holding.key, pool: holding.pool, owners: [...holding.owners].sort() };
  }

  /** The owner's addresses, canonical and sorted; empty when it holds none. */
  addressesOf(owner: string): string[] {
    return [...(this.owners.get(owner)?.addresses ?? [])];
  }

  /** Every in-use address (canonical) with the pool it was given from, sorted by address. */
  assigned(): Array<{ address: string; pool: string }> {
    return [...this.holdings.entries()]
      .sort(([, a], [, b]) => compareIp(a.ip, b.ip))
      .map(([address, h]) => ({ address, pool: h.pool }));
  }

  /** In-use addresses that no current pool contains, sorted. They stay held until released. */
  orphans(): OrphanedAddress[] {
    return [...this.holdings.entries()]
      .filter(([, holding]) => !this.sortedPools.some((pool) => contains(pool, holding.ip)))
      .sort(([, a], [, b]) => compareIp(a.ip, b.ip))
      .map(([address, h]) => ({ address, key: h.key, owners: [...h.owners].sort() }));
  }

  /** Per-pool counts for IPAddressPool status, sorted by pool name. */
  stats(): PoolStats[] {
    return this.sortedPools.map((pool) => {
      let assigned = 0;
      let counted = 0n;
      for (const holding of this.holdings.values()) {
        if (!contains(pool, holding.ip)) continue;
        assigned++;
        if (countsInSize(pool, holding.ip)) counted++;
      }
      const size = Number(pool.size);
      return { pool: pool.spec.name, size, assigned, available: Number(pool.size - counted) };
    });
  }

  /** The pools the request may use, in its order of preference. */
  private allowed(request: AllocationRequest): Pool[] {
    if (request.allowedPools === undefined) return this.sortedPools;
    return request.allowedPools
      .map((name) => this.pools.get(name))
      .filter((pool): pool is Pool => pool !== undefined);
  }

  private autoPools(request?: AllocationRequest): Pool[] {
    const pools = request === undefined ? this.sortedPools : this.allowed(request);
    return pools.filter((pool) => pool.spec.autoAssign);
  }

  private wantedFamilies(request: AllocationRequest): IpFamily[] {
    return [...(request.families ?? []), ...(request.optionalFamilies ?? [])];
  }

  /**
   * Why the request may not join the owners of `addresses` under its sharing terms, or
   * undefined when it may (or when neither side states terms).
   */
  private sharingConflict(
    request: AllocationRequest,
    addresses: readonly string[],
  ): string | undefined {
    const mine = request.sharing;
    // Owners without terms (Ingresses) share freely, and cheaply: 10,000 may hold one key.
    if (mine === undefined) return undefined;
    const others = new Set<string>();
    for (const address of addresses) {
      for (const owner of this.holdings.get(address)?.owners ?? []) {
        if (owner !== request.owner) others.add(owner);
      }
    }
    for (const other of [...others].sort()) {
      const theirs = this.owners.get(other)?.sharing;
      if (theirs === undefined) continue;
      const on = addresses.join(', ');
      if (mine.trafficPolicy !== theirs.trafficPolicy) {
        return `${other} uses ${on} with externalTrafficPolicy ${theirs.trafficPolicy}, this one asks for ${mine.trafficPolicy}; Services sharing an address must agree on it`;
      }
      const port = mine.ports.find((p) => theirs.ports.includes(p));
      if (port !== undefined) return `port ${port} on ${on} is already used by ${other}`;
      if (mine.trafficPolicy === 'Local' && mine.selector !== theirs.selector) {
        return `${other} uses ${on} with externalTrafficPolicy Local and other pods; Services sharing an address with policy Local must select the same pods`;
      }
    }
    return undefined;
  }

  /** Whether what the owner holds still meets the request, so that nothing needs to move. */
  private stillFits(
    current: OwnerRecord,
    request: AllocationRequest,
    requested: Candidate[],
  ): boolean {
    const families = new Set(current.addresses.map((a) => this.holdingOf(a).ip.family as IpFamily));
    return (
      current.key === request.key &&
      (request.pool === undefined || current.pool === request.pool) &&
      (request.families === undefined ||
        (request.families.every((f) => families.has(f)) &&
          [...families].every((f) => this.wantedFamilies(request).includes(f)))) &&
      JSON.stringify(current.sharing) === JSON.stringify(request.sharing) &&
      (requested.length === 0 ||
        sameList(
          current.addresses,
          requested.map((c) => c.address),
        ))
    );
  }

  /** Canonical, de-duplicated and sorted candidates, or a message naming the first bad one. */
  private normalize(texts: readonly string[]): Candidate[] | string {
    const byAddress = new Map<string, Candidate>();
    for (const text of texts) {
      const ip = parseIp(text.trim());
      if (ip === undefined) return `requested address ${JSON.stringify(text)} is not an IP address`;
      const address = formatIp(ip.family, ip.value);
      byAddress.set(address, { address, ip });
    }
    return [...byAddress.values()].sort((a, b) => compareIp(a.ip, b.ip));
  }

  private assignRequested(request: AllocationRequest, requested: Candidate[]): AllocationResult {
    const list = requested.map((c) => c.address).join(', ');
    let pool = request.pool === undefined ? undefined : this.pools.get(request.pool);
    const allowed = this.allowed(request);
    if (pool !== undefined) {
      const outside = requested.find((c) => pool !== undefined && !contains(pool, c.ip));
      if (outside !== undefined) {
        const message = `requested address ${outside.address} is not in address pool "${pool.spec.name}"`;
        return fail('PIER_ADDRESS_OUTSIDE_POOLS', message);
      }
    } else {
      const nowhere = requested.find((c) => !this.sortedPools.some((p) => contains(p, c.ip)));
      if (nowhere !== undefined) {
        const message = `requested address ${nowhere.address} is in no address pool`;
        return fail('PIER_ADDRESS_OUTSIDE_POOLS', message);
      }
      const barred = requested.find((c) => !allowed.some((p) => contains(p, c.ip)));
      if (barred !== undefined) {
        const message = `requested address ${barred.address} is in no address pool that serves this object (see the pools' allocateTo and serviceAllocation)`;
        return fail('PIER_POOL_NOT_ALLOWED', message);
      }
      pool = allowed.find((p) => requested.every((c) => contains(p, c.ip)));
      if (pool === undefined) {
        const message = `requested addresses ${list} are not all in one address pool`;
        return fail('PIER_ADDRESS_OUTSIDE_POOLS', message);
      }
    }
    for (const candidate of requested) {
      const holder = this.holdings.get(candidate.address);
      if (holder !== undefined && holder.key !== request.key) {
        const message = `address ${candidate.address} is already used by ${describeKey(holder.key)} (${[...holder.owners].sort().join(', ')})`;
        return fail('PIER_ADDRESS_HELD', message);
      }
    }
    const conflict = this.sharingConflict(
      request,
      requested.map((c) => c.address),
    );
    if (conflict !== undefined) return fail('PIER_SHARING_CONFLICT', conflict);
    // All owners of a key in a pool share the key's addresses, so asking for different ones
    // while other owners hold the key's current ones cannot be honoured.
    const keyAddresses = this.keyAddresses(pool.spec.name, request.key);
    if (
      keyAddresses.length > 0 &&
      !sameList(
        keyAddresses,
        requested.map((c) => c.address),
      )
    ) {
      const message =
        `${describeKey(request.key)} already uses ${keyAddresses.join(', ')} in address pool ` +
        `"${pool.spec.name}"; Ingresses with the same key share its addresses, so request those ` +
        'or use another key';
      return fail('PIER_ADDRESS_HELD', message);
    }
    return this.commit(request, pool.spec.name, requested);
  }

  private assignAuto(request: AllocationRequest): AllocationResult {
    const named = request.pool === undefined ? undefined : this.pools.get(request.pool);
    const pools = named === undefined ? this.autoPools(request) : [named];
    const families = request.families;
    for (const pool of pools) {
      const held = this.keyAddresses(pool.spec.name, request.key);
      if (held.length === 0) continue;
      // A single-stack owner joining a dual-stack key takes only its own family's address.
      const wanted = families === undefined ? undefined : this.wantedFamilies(request);
      const candidates = held
        .map((address) => ({ address, ip: this.holdingOf(address).ip }))
        .filter((c) => wanted === undefined || wanted.includes(c.ip.family));
      const missing = families?.find((f) => !candidates.some((c) => c.ip.family === f));
      if (missing !== undefined) {
        const message = `the sharing key's addresses ${held.join(', ')} in address pool "${pool.spec.name}" have no IPv${missing} address; Services sharing a key must ask for the same families`;
        return fail('PIER_SHARING_CONFLICT', message);
      }
      const conflict = this.sharingConflict(request, held);
      if (conflict !== undefined) return fail('PIER_SHARING_CONFLICT', conflict);
      return this.commit(request, pool.spec.name, candidates);
    }
    for (const pool of pools) {
      const candidates = this.freeCandidates(pool, request);
      if (candidates !== undefined) return this.commit(request, pool.spec.name, candidates);
    }
    const tried = pools.map((p) => `"${p.spec.name}" (${p.size} addresses)`).join(', ');
    const of = families === undefined ? '' : ` of ${familyList(families)}`;
    return fail('PIER_POOL_EXHAUSTED', `no free address${of} left in address pools ${tried}`);
  }

  /**
   * One free address of each required family (plus the optional ones the pool still has), or
   * of either family when the request names none; undefined when the pool cannot give them.
   */
  private freeCandidates(pool: Pool, request: AllocationRequest): Candidate[] | undefined {
    const toCandidate = (ip: IpAddress): Candidate => ({
      address: formatIp(ip.family, ip.value),
      ip,
    });
    if (request.families === undefined) {
      const ip = this.lowestFree(pool);
      return ip === undefined ? undefined : [toCandidate(ip)];
    }
    const candidates: Candidate[] = [];
    for (const family of request.families) {
      const ip = this.lowestFree(pool, family);
      if (ip === undefined) return undefined;
      candidates.push(toCandidate(ip));
    }
    for (const family of request.optionalFamilies ?? []) {
      const ip = this.lowestFree(pool, family);
      if (ip !== undefined) candidates.push(toCandidate(ip));
    }
    if (candidates.length === 0) return undefined;
    return candidates.sort((a, b) => compareIp(a.ip, b.ip));
  }

  /**
   * Lowest free address of the pool in numeric order (IPv4 first). Jumps over runs of in-use
   * addresses, so the cost grows with the number of runs, not with the pool's size.
   */
  private lowestFree(pool: Pool, family?: IpFamily): IpAddress | undefined {
    for (const range of pool.ranges) {
      if (family !== undefined && range.family !== family) continue;
      const used = this.used[range.family];
      let value = range.first;
      while (value <= range.last) {
        value = used.nextFree(value);
        if (value > range.last) break;
        const ip = { family: range.family, value };
        if (countsInSize(pool, ip)) return ip;
        value++;
      }
    }
    return undefined;
  }

  /** Addresses the key holds from the pool, sorted. */
  private keyAddresses(pool: string, key: string): string[] {
    const addresses = this.keyIndex.get(JSON.stringify([pool, key]));
    if (addresses === undefined) return [];
    return [...addresses].sort((a, b) => compareIp(this.holdingOf(a).ip, this.holdingOf(b).ip));
  }

  private holdingOf(address: string): Holding {
    const holding = this.holdings.get(address);
    if (holding === undefined) throw new Error(`ip-allocator: index out of sync at ${address}`);
    return holding;
  }

  /** For a restored address with no pool named: the first pool (autoAssign ones first) holding it. */
  private poolTagFor(ip: IpAddress): string {
    const pool =
      this.autoPools().find((p) => contains(p, ip)) ??
      this.sortedPools.find((p) => contains(p, ip));
    return pool?.spec.name ?? '';
  }

  /**
   * Records the owner as holding the candidates. `tags` names the pool each new holding is
   * attributed to; an address already held (by this key) keeps its attribution.
   */
  private commit(
    who: Pick<AllocationRequest, 'owner' | 'key' | 'sharing'>,
    pool: string,
    candidates: readonly Candidate[],
    tags: readonly string[] = [],
  ): AllocationResult {
    const { owner, key } = who;
    for (const [i, candidate] of candidates.entries()) {
      const existing = this.holdings.get(candidate.address);
      if (existing !== undefined) {
        // Callers only join holdings of the same key; anything else would be a double
        // allocation, and failing loudly beats handing one address to two keys.
        if (existing.key !== key) throw new Error(`ip-allocator: ${candidate.address} is not free`);
        existing.owners.add(owner);
        continue;
      }
      const tag = tags[i] ?? pool;
      this.holdings.set(candidate.address, {
        ip: candidate.ip,
        key,
        pool: tag,
        owners: new Set([owner]),
      });
      this.used[candidate.ip.family].add(candidate.ip.value);
      const indexKey = JSON.stringify([tag, key]);
      const index = this.keyIndex.get(indexKey) ?? new Set<string>();
      this.keyIndex.set(indexKey, index.add(candidate.address));
    }
    const addresses = candidates.map((c) => c.address);
    this.owners.set(owner, { key, pool, addresses, sharing: who.sharing });
    return { ok: true, addresses: [...addresses], pool, changed: true };
  }

  private detach(owner: string): Detached | undefined {
    const record = this.owners.get(owner);
    if (record === undefined) return undefined;
    this.owners.delete(owner);
    const candidates: Candidate[] = [];
    const pools: string[] = [];
    const freed: string[] = [];
    for (const address of record.addresses) {
      const holding = this.holdingOf(address);
      candidates.push({ address, ip: holding.ip });
      pools.push(holding.pool);
      holding.owners.delete(owner);
      if (holding.owners.size > 0) continue;
      this.holdings.delete(address);
      this.used[holding.ip.family].delete(holding.ip.value);
      const indexKey = JSON.stringify([holding.pool, holding.key]);
      const index = this.keyIndex.get(indexKey);
      index?.delete(address);
      if (index?.size === 0) this.keyIndex.delete(indexKey);
      freed.push(address);
    }
    return { record, candidates, pools, freed };
  }

  private reattach(owner: string, detached: Detached): void {
    const { record, candidates, pools } = detached;
    this.commit(
      { owner, key: record.key, sharing: record.sharing },
      record.pool,
      candidates,
      pools,
    );
  }
}
