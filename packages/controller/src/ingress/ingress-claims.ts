/** Ingresses as claimants of addresses (see ClaimKind): owner `namespace/name`. */
import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node';
import {
  type ClaimKind,
  loadBalancerIps,
  type ObjectSource,
  type ParsedClaim,
} from '../addresses/claim-kind.ts';
import { ingressSubject, type KubeWriter } from '../kube/kube-writer.ts';
import { parseAddressAnnotations } from './ingress-annotations.ts';
import { classifyIngress } from './ingress-class.ts';

function namespaceName(ingress: V1Ingress): string {
  return `${ingress.metadata?.namespace ?? ''}/${ingress.metadata?.name ?? ''}`;
}

export function ingressClaims(deps: {
  ingresses: ObjectSource<V1Ingress>;
  classes: ObjectSource<V1IngressClass>;
  /** `--ingress-class-compat`: class names also served. */
  compat: ReadonlySet<string>;
  writer: KubeWriter;
}): ClaimKind<V1Ingress> {
  return {
    kind: 'Ingress',
    waitsForRoutes: true,
    statusWriteKind: 'ingress-status',
    reportsHolder: false,
    owner: (nn) => nn,
    // Other kinds' owners start with their kind and a space; a namespace/name has none.
    namespaceNameOf: (owner) => (owner.includes(' ') ? undefined : owner),
    get: (namespace, name) => deps.ingresses.get(name, namespace),
    list: () => deps.ingresses.list(),
    namespaceName,
    notOursBecause: (ingress) => {
      const verdict = classifyIngress(ingress, deps.classes.list(), deps.compat);
      return verdict.ours ? undefined : verdict.reason;
    },
    request: (ingress): ParsedClaim => {
      const parsed = parseAddressAnnotations(ingress);
      if (!parsed.ok) {
        return {
          ok: false,
          code: 'PIER_INVALID_ANNOTATION',
          message: `annotation ${parsed.annotation}: ${parsed.message}`,
        };
      }
      return { ok: true, request: parsed.request };
    },
    statusAddresses: (ingress) => loadBalancerIps(ingress.status),
    // Ingress status has no conditions: only the addresses are ever written.
    writeStatus: async (ingress, { addresses }) =>
      addresses === undefined ? ingress : deps.writer.updateIngressStatus(ingress, addresses),
    subject: ingressSubject,
  };
}
