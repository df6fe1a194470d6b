/**
 * Pools and addresses for the dashboard, from IPAddressPool objects and the objects holding
 * addresses. Pure. A pool's counts come from its status when the controller wrote one (what
 * `kubectl get ippools` shows), else from its spec and the holders given (standalone mode).
 */
import type { V1Condition } from '@kubernetes/client-node';
import { parseIp } from '../addresses/ip-address.ts';
import type { IPAddressPool } from '../addresses/ip-address-pool.ts';
import { toPoolSpec } from '../addresses/ip-address-pool.ts';
import { countBuggyIPv4, mergeRanges, rangeContains, rangeSize } from '../addresses/pool-spec.ts';
import type { AddressView, PoolView } from './dashboard-state.ts';

/** An object that holds addresses: `Ingress ns/name` and what its status shows. */
export interface AddressOwner {
  owner: string;
  addresses: readonly string[];
}

/** Conditions on a pool that say something is wrong. */
const PROBLEM_WHEN: Record<string, string> = { Accepted: 'False', Overlapping: 'True' };

export function addressViews(
  pools: readonly IPAddressPool[],
  owners: readonly AddressOwner[],
): { pools: PoolView[]; addresses: AddressView[] } {
  const specs = pools.map((pool) => ({ pool, conversion: toPoolSpec(pool) }));
  const byAddress = new Map<string, AddressView>();
  for (const { owner, addresses } of owners) {
    for (const address of addresses) {
      let view = byAddress.get(address);
      if (view === undefined) {
        const ip = parseIp(address);
        const home = ip
          ? specs.find(
              (s) =>
                s.conversion.ok &&
                s.conversion.spec.ranges.some((r) => rangeContains(r, ip.family, ip.value)),
            )
          : undefined;
        const holder = home?.pool.status?.holders?.find((h) => h.address === address)?.node;
        view = {
          address,
          pool: home?.pool.metadata?.name ?? '—',
          owners: [],
          holder,
          l2: home?.pool.spec?.l2 !== undefined,
        };
        byAddress.set(address, view);
      }
      view.owners.push(owner);
    }
  }
  const addresses = [...byAddress.values()].sort(
    (a, b) => a.pool.localeCompare(b.pool) || compareAddresses(a.address, b.address),
  );
  for (const a of addresses) a.owners.sort();
  const poolViews = specs.map(({ pool, conversion }): PoolView => {
    const name = pool.metadata?.name ?? '';
    const used = pool.status?.assigned ?? addresses.filter((a) => a.pool === name).length;
    let size: bigint | undefined;
    if (conversion.ok) {
      size = 0n;
      for (const r of mergeRanges(conversion.spec.ranges)) {
        size += rangeSize(r);
        if (conversion.spec.avoidBuggyIPs && r.family === 4)
          size -= countBuggyIPv4(r.first, r.last);
      }
    }
    const free = pool.status?.available ?? (size === undefined ? 0 : capped(size - BigInt(used)));
    const problems = (pool.status?.conditions ?? [])
      .filter((c: V1Condition) => PROBLEM_WHEN[c.type] === c.status)
      .map((c) => `${c.type}=${c.status}: ${c.reason}${c.message ? ` (${c.message})` : ''}`);
    if (!conversion.ok && problems.length === 0) problems.push(conversion.errors.join('; '));
    return {
      name,
      size: size === undefined ? '—' : size.toString(),
      used,
      free,
      l2: pool.spec?.l2 !== undefined,
      problems,
    };
  });
  return { pools: poolViews.sort((a, b) => a.name.localeCompare(b.name)), addresses };
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** As a number, capped at 2^53 - 1 as the pool status is. */
function capped(n: bigint): number {
  return Number(n > MAX_EXACT ? MAX_EXACT : n < 0n ? 0n : n);
}

function compareAddresses(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (x === undefined || y === undefined) return a.localeCompare(b);
  return x.family - y.family || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0);
}
