/**
 * The IPAddressPool custom resource (`pier.dev/v1alpha1`, cluster-scoped) as
 * the controller sees it, and its conversion into the allocator's PoolSpec.
 */
import type { KubernetesObject, V1Condition } from '@kubernetes/client-node';
import type { LabelSelector } from '../kube/label-selector.ts';
import { type PoolSpec, parsePoolAddresses } from './pool-spec.ts';

/** The kinds of object a pool can serve (`spec.allocateTo`). */
export type ClaimKindName = 'Ingress' | 'Gateway' | 'Service';

export const PIER_GROUP = 'pier.dev';
export const PIER_VERSION = 'v1alpha1';
export const POOL_PLURAL = 'ipaddresspools';

export interface IPAddressPool extends KubernetesObject {
  spec?: {
    addresses?: string[];
    autoAssign?: boolean;
    avoidBuggyIPs?: boolean;
    /** Unset: every kind. */
    allocateTo?: ClaimKindName[];
    /** Services only: which namespaces, and the pool's rank (MetalLB's serviceAllocation). */
    serviceAllocation?: {
      priority?: number;
      namespaces?: string[];
      namespaceSelectors?: LabelSelector[];
    };
    l2?: {
      interfaces?: string[];
      nodeSelector?: LabelSelector;
    };
  };
  status?: IPAddressPoolStatus;
}

export interface IPAddressPoolStatus {
  assigned?: number;
  available?: number;
  /** L2 pools: the node announcing each assigned address (absent for other pools). */
  holders?: Array<{ address: string; node: string }>;
  /** L2 pools: the distinct nodes of `holders`, sorted (the HOLDERS column of kubectl get). */
  holderNodes?: string[];
  observedGeneration?: number;
  conditions?: V1Condition[];
}

/** Condition types on a pool. */
export const POOL_CONDITION_ACCEPTED = 'Accepted';
export const POOL_CONDITION_OVERLAPPING = 'Overlapping';

export type PoolConversion =
  | { ok: true; spec: PoolSpec }
  | { ok: false; name: string; errors: string[] };

/**
 * Converts a pool object; the API server's schema already refuses malformed
 * entries, so errors here are what the schema cannot see (e.g. a range whose
 * start lies after its end).
 */
export function toPoolSpec(pool: IPAddressPool): PoolConversion {
  const name = pool.metadata?.name ?? '';
  const { ranges, errors } = parsePoolAddresses(pool.spec?.addresses ?? []);
  if (errors.length > 0) return { ok: false, name, errors };
  if (ranges.length === 0) return { ok: false, name, errors: ['spec.addresses is empty'] };
  return {
    ok: true,
    spec: {
      name,
      ranges,
      autoAssign: pool.spec?.autoAssign ?? true,
      avoidBuggyIPs: pool.spec?.avoidBuggyIPs ?? false,
    },
  };
}

/** Compares two statuses ignoring timestamps' representation (Date vs string). */
export function sameStatus(a: IPAddressPoolStatus | undefined, b: IPAddressPoolStatus): boolean {
  const norm = (s: IPAddressPoolStatus | undefined): string =>
    JSON.stringify({
      assigned: s?.assigned,
      available: s?.available,
      holders: (s?.holders ?? []).map((h) => `${h.address}=${h.node}`),
      holderNodes: s?.holderNodes,
      observedGeneration: s?.observedGeneration,
      conditions: (s?.conditions ?? [])
        .map((c) => ({
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message,
          observedGeneration: c.observedGeneration,
        }))
        .sort((x, y) => x.type.localeCompare(y.type)),
    });
  return norm(a) === norm(b);
}
