/**
 * What the dataplanes announce in L2 mode, compiled from the pools, the Nodes' labels and the
 * allocations (pure: the controller has all three, the dataplanes have no API access), and who
 * holds each address, for the pools' status.
 */
import {
  isInterfaceName,
  type L2Announcement,
  type L2Announcements,
  type L2Lease,
} from '@pier/shared';
import type { IPAddressPool } from '../addresses/ip-address-pool.ts';
import { matchesLabelSelector } from '../kube/label-selector.ts';

/** A Node as far as L2 eligibility goes. */
export interface NodeLabels {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Whether a node's labels match an L2 pool's `nodeSelector` (see {@link matchesLabelSelector}). */
export const matchesNodeSelector = matchesLabelSelector;

/**
 * The announcements: every assigned address of a pool with `spec.l2`, with the pool's
 * interfaces (names the dataplane could not use are left out) and the nodes its selector
 * matches. Addresses of pools without `spec.l2` are not announced at layer 2. `localNodes`
 * narrows an address to the nodes it returns (a Service with `externalTrafficPolicy: Local`
 * may be announced only by nodes with a ready local endpoint); undefined leaves it as is.
 */
export function compileL2Announcements(
  pools: readonly IPAddressPool[],
  nodes: readonly NodeLabels[],
  assigned: ReadonlyArray<{ address: string; pool: string }>,
  localNodes?: (address: string) => ReadonlySet<string> | undefined,
): L2Announcements {
  const byPool = new Map<string, { interfaces: string[]; nodes: string[] }>();
  for (const pool of pools) {
    const l2 = pool.spec?.l2;
    const name = pool.metadata?.name;
    if (l2 === undefined || l2 === null || name === undefined) continue;
    byPool.set(name, {
      interfaces: (l2.interfaces ?? []).filter(isInterfaceName),
      nodes: nodes
        .filter((n) => matchesNodeSelector(n.labels, l2.nodeSelector))
        .map((n) => n.name)
        .sort(),
    });
  }
  const addresses: L2Announcement[] = [];
  for (const { address, pool } of assigned) {
    const target = byPool.get(pool);
    if (target === undefined) continue;
    const local = localNodes?.(address);
    const eligible = local === undefined ? target.nodes : target.nodes.filter((n) => local.has(n));
    addresses.push({ address, pool, interfaces: target.interfaces, nodes: eligible });
  }
  return { addresses };
}

/** One line of `status.holders` on an IPAddressPool. */
export interface PoolHolder {
  address: string;
  /** The node whose dataplane announces the address now. */
  node: string;
}

/**
 * The holders per pool from the leases read in Redis; every L2 pool gets a list (empty when no
 * node holds any of its addresses), sorted by address as announced.
 */
export function holdersByPool(
  announcements: L2Announcements,
  leases: ReadonlyMap<string, L2Lease | undefined>,
  l2Pools: Iterable<string>,
): Map<string, PoolHolder[]> {
  const result = new Map<string, PoolHolder[]>();
  for (const pool of l2Pools) result.set(pool, []);
  for (const a of announcements.addresses) {
    const lease = leases.get(a.address);
    if (lease === undefined) continue;
    const list = result.get(a.pool) ?? [];
    list.push({ address: a.address, node: lease.node });
    result.set(a.pool, list);
  }
  return result;
}

/**
 * How many announced addresses of each L2 pool have no holder: no node's lease in Redis, so no
 * node answers for them. Every L2 pool gets a count (0 when all are held).
 */
export function unheldByPool(
  announcements: L2Announcements,
  holders: ReadonlyMap<string, readonly PoolHolder[]>,
  l2Pools: Iterable<string>,
): Map<string, number> {
  const result = new Map<string, number>();
  for (const pool of l2Pools) result.set(pool, 0);
  const held = new Set<string>();
  for (const list of holders.values()) for (const h of list) held.add(h.address);
  for (const a of announcements.addresses) {
    if (!held.has(a.address)) result.set(a.pool, (result.get(a.pool) ?? 0) + 1);
  }
  return result;
}

/**
 * Addresses taken over by another node (a failover), per pool, given the node that last held
 * each address. An address held for the first time, or back on the node that last held it after
 * a time without holder, is no move. Returns the moves and the last holders to keep: those of
 * the addresses still announced.
 */
export function holderMoves(
  lastHolders: ReadonlyMap<string, string>,
  announcements: L2Announcements,
  holders: ReadonlyMap<string, readonly PoolHolder[]>,
): { moves: Map<string, number>; lastHolders: Map<string, string> } {
  const moves = new Map<string, number>();
  const next = new Map<string, string>();
  for (const a of announcements.addresses) {
    const last = lastHolders.get(a.address);
    if (last !== undefined) next.set(a.address, last);
  }
  for (const [pool, list] of holders) {
    for (const { address, node } of list) {
      const last = next.get(address);
      if (last !== undefined && last !== node) moves.set(pool, (moves.get(pool) ?? 0) + 1);
      next.set(address, node);
    }
  }
  return { moves, lastHolders: next };
}
