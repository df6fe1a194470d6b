/** Services of type LoadBalancer for the controller's tests: manifests and waits on their status. */
import { CoreV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { loadBalancerIps, waitForEveryAddress } from './ingress-fixtures.ts';

/** A Service of type LoadBalancer (YAML-compatible JSON) for `kubectl apply`. */
export function loadBalancerService(
  namespace: string,
  name: string,
  options: {
    /** `null` leaves loadBalancerClass unset; default `pier.dev/lb`. */
    className?: string | null;
    ports?: Array<{ port: number; protocol?: 'TCP' | 'UDP' }>;
    annotations?: Record<string, string>;
    loadBalancerIP?: string;
    externalTrafficPolicy?: 'Cluster' | 'Local';
    selector?: Record<string, string>;
  } = {},
): Record<string, unknown> {
  const className = options.className === undefined ? 'pier.dev/lb' : options.className;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec: {
      type: 'LoadBalancer',
      ...(className === null ? {} : { loadBalancerClass: className }),
      ...(options.loadBalancerIP ? { loadBalancerIP: options.loadBalancerIP } : {}),
      ...(options.externalTrafficPolicy
        ? { externalTrafficPolicy: options.externalTrafficPolicy }
        : {}),
      selector: options.selector ?? { app: name },
      ports: (options.ports ?? [{ port: 80 }]).map((p) => ({
        name: `${(p.protocol ?? 'TCP').toLowerCase()}-${p.port}`,
        port: p.port,
        protocol: p.protocol ?? 'TCP',
        targetPort: p.port,
      })),
    },
  };
}

export function serviceAddresses(service: V1Service): string[] {
  return loadBalancerIps(service);
}

/** Current load-balancer addresses of every Service in `namespace`, by name. */
export async function serviceAddressMap(
  kc: KubeConfig,
  namespace: string,
): Promise<Map<string, string[]>> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedService({ namespace });
  return new Map(list.items.map((s) => [s.metadata?.name ?? '', serviceAddresses(s)]));
}

/** Waits until every named Service has an address in status; returns all of the namespace's. */
export function waitForServiceAddresses(
  kc: KubeConfig,
  namespace: string,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<Map<string, string[]>> {
  return waitForEveryAddress(
    `Services in ${namespace}`,
    () => serviceAddressMap(kc, namespace),
    names,
    timeoutMs,
  );
}
