/**
 * Whether a client address may use a route (its `sourceRanges`, from ingress-nginx's
 * `allowlist-source-range` and `denylist-source-range`): deny wins, then an allowlist admits
 * only its own. The CIDRs of a route are compiled once into `net.BlockList`s, kept as long as
 * the route object (one table revision).
 */
import { BlockList, isIP } from 'node:net';
import type { Route, SourceRanges } from '@pier/shared';

interface CompiledRanges {
  allow: BlockList | undefined;
  deny: BlockList | undefined;
}

const compiled = new WeakMap<SourceRanges, CompiledRanges>();

/** The canonical CIDRs of a route (`a.b.c.d/n`, `v6::/n`) as one `BlockList`; undefined for none. */
export function cidrBlockList(cidrs: readonly string[] | undefined): BlockList | undefined {
  if (cidrs === undefined) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** Whether `address` (IPv4 or IPv6 text, unmapped) is in `list`; anything else is not. */
export function listed(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** Whether `address` (the TCP peer, IPv4-mapped form already unmapped) may use `route`. */
export function sourceAllowed(route: Route | undefined, address: string): boolean {
  const ranges = route?.sourceRanges;
  if (ranges === undefined) return true;
  let lists = compiled.get(ranges);
  if (lists === undefined) {
    lists = { allow: cidrBlockList(ranges.allow), deny: cidrBlockList(ranges.deny) };
    compiled.set(ranges, lists);
  }
  if (lists.deny !== undefined && listed(lists.deny, address)) return false;
  return lists.allow === undefined || listed(lists.allow, address);
}
