/**
 * Which pools an object may take addresses from, in the order they are tried: `spec.allocateTo`
 * limits a pool to kinds of object, and for Services `spec.serviceAllocation` limits it to
 * namespaces and ranks it (lower priority number first; MetalLB's rule). Pure.
 */
import { type LabelSelector, matchesLabelSelector } from '../kube/label-selector.ts';
import type { ClaimKindName, IPAddressPool } from './ip-address-pool.ts';

/** A namespace as far as pool selection goes. */
export interface NamespaceLabels {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

function nameOf(pool: IPAddressPool): string {
  return pool.metadata?.name ?? '';
}

function byName(a: IPAddressPool, b: IPAddressPool): number {
  return nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0;
}

function servesNamespace(
  allocation: { namespaces?: string[]; namespaceSelectors?: LabelSelector[] },
  namespace: string,
  labels: Readonly<Record<string, string>>,
): boolean {
  const names = allocation.namespaces ?? [];
  const selectors = allocation.namespaceSelectors ?? [];
  if (names.length === 0 && selectors.length === 0) return true;
  return names.includes(namespace) || selectors.some((s) => matchesLabelSelector(labels, s));
}

/**
 * The names of the pools an object of `kind` in `namespace` may use, in the order to try them.
 * Ingresses and Gateways: every pool that allows the kind, by name. Services: the pools with a
 * `serviceAllocation` that matches the namespace, by priority (unset last) then name, then the
 * pools without one, by name.
 */
export function eligiblePools(
  pools: readonly IPAddressPool[],
  kind: ClaimKindName,
  namespace: string,
  namespaceLabels: Readonly<Record<string, string>>,
): string[] {
  const allowed = pools
    .filter((p) => p.spec?.allocateTo === undefined || p.spec.allocateTo.includes(kind))
    .sort(byName);
  if (kind !== 'Service') return allowed.map(nameOf);
  const ranked: Array<{ pool: IPAddressPool; priority: number }> = [];
  const rest: IPAddressPool[] = [];
  for (const pool of allowed) {
    const allocation = pool.spec?.serviceAllocation;
    if (allocation === undefined || allocation === null) rest.push(pool);
    else if (servesNamespace(allocation, namespace, namespaceLabels)) {
      ranked.push({ pool, priority: allocation.priority ?? Number.POSITIVE_INFINITY });
    }
  }
  ranked.sort((a, b) => a.priority - b.priority || byName(a.pool, b.pool));
  return [...ranked.map((r) => nameOf(r.pool)), ...rest.map(nameOf)];
}
