/**
 * Which nodes may announce the address of a Service with `externalTrafficPolicy: Local`: those
 * with a ready endpoint of it, from its EndpointSlices (kube-proxy on any other node drops the
 * traffic, so announcing there would black-hole it). Pure.
 */
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { SERVICE_OWNER_PREFIX } from './service-claims.ts';

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The `namespace/name` of the Service an EndpointSlice belongs to, if it names one. */
export function sliceService(slice: V1EndpointSlice): string | undefined {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return name ? `${slice.metadata?.namespace ?? ''}/${name}` : undefined;
}

/** Per Service `namespace/name`, the nodes that run a ready endpoint of it. */
export function readyNodesByService(slices: readonly V1EndpointSlice[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const slice of slices) {
    const service = sliceService(slice);
    if (service === undefined) continue;
    const nodes = result.get(service) ?? new Set<string>();
    for (const endpoint of slice.endpoints ?? []) {
      // An unset `ready` means ready (the API's rule).
      if (endpoint.conditions?.ready === false || !endpoint.nodeName) continue;
      nodes.add(endpoint.nodeName);
    }
    result.set(service, nodes);
  }
  return result;
}

export function isLocalLoadBalancer(service: V1Service | undefined): boolean {
  return service?.spec?.type === 'LoadBalancer' && service.spec.externalTrafficPolicy === 'Local';
}

/**
 * The nodes that may announce an address held by `owners` (allocator owners): for every owner
 * that is a Service with policy Local, only the nodes with a ready endpoint of it (Services
 * sharing an address under Local select the same pods); undefined when no owner restricts it.
 */
export function localNodesFor(
  owners: readonly string[],
  serviceOf: (namespaceName: string) => V1Service | undefined,
  readyNodes: () => ReadonlyMap<string, ReadonlySet<string>>,
): ReadonlySet<string> | undefined {
  let nodes: Set<string> | undefined;
  for (const owner of owners) {
    if (!owner.startsWith(SERVICE_OWNER_PREFIX)) continue;
    const nn = owner.slice(SERVICE_OWNER_PREFIX.length);
    if (!isLocalLoadBalancer(serviceOf(nn))) continue;
    const ready = readyNodes().get(nn) ?? new Set<string>();
    nodes = nodes === undefined ? new Set(ready) : new Set([...nodes].filter((n) => ready.has(n)));
  }
  return nodes;
}
