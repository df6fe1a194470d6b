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

/** A Node as far as L2 eligibility goes. */
export interface NodeLabels {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

type NodeSelector = NonNullable<NonNullable<IPAddressPool['spec']>['l2']>['nodeSelector'];

/**
 * Whether labels match a standard label selector (`matchLabels` and `matchExpressions`, all
 * must hold); an empty or missing selector matches every node. An operator the schema does
 * not know matches nothing, so a bad selector selects no node rather than all.
 */
export function matchesNodeSelector(
  labels: Readonly<Record<string, string>>,
  selector: NodeSelector,
): boolean {
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const e of selector?.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    const ok =
      e.operator === 'In'
        ? has && values.includes(value ?? '')
        : e.operator === 'NotIn'
          ? !has || !values.includes(value ?? '')
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

/**
 * The announcements: every assigned address of a pool with `spec.l2`, with the pool's
 * interfaces (names the dataplane could not use are left out) and the nodes its selector
 * matches. Addresses of pools without `spec.l2` are not announced at layer 2.
 */
export function compileL2Announcements(
  pools: readonly IPAddressPool[],
  nodes: readonly NodeLabels[],
  assigned: ReadonlyArray<{ address: string; pool: string }>,
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
    addresses.push({ address, pool, interfaces: target.interfaces, nodes: target.nodes });
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
