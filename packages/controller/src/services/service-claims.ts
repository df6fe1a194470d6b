/** Services of type LoadBalancer as claimants of addresses (see ClaimKind): owner `Service namespace/name`. */
import type { V1Service } from '@kubernetes/client-node';
import { type ClaimKind, loadBalancerIps, type ObjectSource } from '../addresses/claim-kind.ts';
import { type KubeWriter, serviceSubject } from '../kube/kube-writer.ts';
import { parseServiceRequest } from './service-address-request.ts';
import { serviceNotOursBecause } from './service-class.ts';

/** Starts every Service's allocator owner; an Ingress's owner (`namespace/name`) has no space. */
export const SERVICE_OWNER_PREFIX = 'Service ';

/** The allocator owner of a Service: never equal to an Ingress's `namespace/name`. */
export function serviceOwner(namespaceName: string): string {
  return SERVICE_OWNER_PREFIX + namespaceName;
}

export function serviceClaims(deps: {
  services: ObjectSource<V1Service>;
  writer: KubeWriter;
  /** --services-without-class: also serve Services that set no loadBalancerClass. */
  servesWithoutClass: boolean;
}): ClaimKind<V1Service> {
  return {
    kind: 'Service',
    waitsForRoutes: false,
    statusWriteKind: 'service-status',
    reportsHolder: true,
    owner: serviceOwner,
    namespaceNameOf: (owner) =>
      owner.startsWith(SERVICE_OWNER_PREFIX) ? owner.slice(SERVICE_OWNER_PREFIX.length) : undefined,
    get: (namespace, name) => deps.services.get(name, namespace),
    list: () => deps.services.list(),
    namespaceName: (s) => `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`,
    notOursBecause: (s) => serviceNotOursBecause(s, deps.servesWithoutClass),
    request: parseServiceRequest,
    statusAddresses: (s) => loadBalancerIps(s.status),
    conditions: (s) => s.status?.conditions ?? [],
    writeStatus: (s, write) => deps.writer.updateServiceStatus(s, write),
    subject: serviceSubject,
  };
}
