import {
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  type V1Ingress,
} from '@kubernetes/client-node';
import { waitUntil } from './child-process.ts';

/** A minimal Ingress manifest (YAML-compatible JSON) for `kubectl apply`. */
export function ingressManifest(
  namespace: string,
  name: string,
  options: {
    className?: string;
    annotations?: Record<string, string>;
    host?: string;
    service?: string;
  } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec: {
      ...(options.className ? { ingressClassName: options.className } : {}),
      rules: [
        {
          host: options.host ?? `${name}.example.test`,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: options.service ?? 'web', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/** A `kubernetes.io/tls` Secret (YAML-compatible JSON) holding `crt` and `key` (PEM). */
export function tlsSecretManifest(
  namespace: string,
  name: string,
  crt: string,
  key: string,
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(crt).toString('base64'),
      'tls.key': Buffer.from(key).toString('base64'),
    },
  };
}

/** A `kind: List` document holding `items`, for one `kubectl apply -f -`. */
export function listDocument(items: readonly Record<string, unknown>[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** The IPs in an object's `status.loadBalancer` (Ingresses and Services alike). */
export function loadBalancerIps(obj: {
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}): string[] {
  return (obj.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
}

export function addressesOf(ingress: V1Ingress): string[] {
  return loadBalancerIps(ingress);
}

/** Current addresses of every Ingress in `namespace`, by name. */
export async function ingressAddresses(
  kc: KubeConfig,
  namespace: string,
): Promise<Map<string, string[]>> {
  const list = await kc.makeApiClient(NetworkingV1Api).listNamespacedIngress({ namespace });
  return new Map(list.items.map((i) => [i.metadata?.name ?? '', addressesOf(i)]));
}

/** Waits until `current()` (addresses by name) gives every named object an address; returns it. */
export function waitForEveryAddress(
  what: string,
  current: () => Promise<Map<string, string[]>>,
  names: readonly string[],
  timeoutMs: number,
): Promise<Map<string, string[]>> {
  return waitUntil(
    `addresses on ${names.length} ${what}`,
    async () => {
      const all = await current();
      return names.every((n) => (all.get(n)?.length ?? 0) > 0) ? all : undefined;
    },
    timeoutMs,
    50,
  );
}

/** Waits until every named Ingress has an address; returns them. */
export function waitForAddresses(
  kc: KubeConfig,
  namespace: string,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<Map<string, string[]>> {
  return waitForEveryAddress(
    `Ingresses in ${namespace}`,
    () => ingressAddresses(kc, namespace),
    names,
    timeoutMs,
  );
}

/** An IPAddressPool (YAML-compatible JSON) for `kubectl apply`. */
export function poolDocument(
  name: string,
  addresses: string[],
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'IPAddressPool',
    metadata: { name },
    spec: { addresses, ...extra },
  });
}

/** Events in `namespace` about the named object, oldest first. */
export async function eventsFor(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<Array<{ reason: string; message: string; type: string; source: string }>> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items
    .sort(
      (a, b) => new Date(a.lastTimestamp ?? 0).getTime() - new Date(b.lastTimestamp ?? 0).getTime(),
    )
    .map((e) => ({
      reason: e.reason ?? '',
      message: e.message ?? '',
      type: e.type ?? '',
      source: e.source?.component ?? e.reportingComponent ?? '',
    }));
}
