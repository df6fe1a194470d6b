/**
 * Everything the controller writes to Kubernetes, behind a three-method
 * interface (after MetalLB's controller): the reconcile logic never holds an
 * API client, and the real implementation is exercised by the integration
 * tests against a real API server.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  NetworkingV1Api,
  type V1Condition,
  type V1Ingress,
  type V1IngressLoadBalancerIngress,
  type V1Service,
  type V1ServiceStatus,
} from '@kubernetes/client-node';
import {
  type IPAddressPool,
  type IPAddressPoolStatus,
  PIER_GROUP,
  PIER_VERSION,
  POOL_PLURAL,
} from '../addresses/ip-address-pool.ts';
import type { HealthCheckPolicy } from '../routes/route-compiler.ts';

export const POLICY_PLURAL = 'healthcheckpolicies';

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** What one status write sets; what is left undefined stays as the object shows it. */
export interface StatusWrite {
  /** `status.loadBalancer.ingress`. */
  addresses?: readonly string[];
  /** The whole `status.conditions` list. */
  conditions?: V1Condition[];
}

export interface KubeWriter {
  /** Replaces `status.loadBalancer.ingress` through the status subresource (optimistic: 409 if stale). */
  updateIngressStatus(ingress: V1Ingress, addresses: readonly string[]): Promise<V1Ingress>;
  /**
   * Replaces a Service's `status.loadBalancer.ingress` (`ipMode: VIP`) and/or its conditions in
   * one write, the rest of its status as read (optimistic: 409 if stale).
   */
  updateServiceStatus(service: V1Service, write: StatusWrite): Promise<V1Service>;
  updatePoolStatus(pool: IPAddressPool, status: IPAddressPoolStatus): Promise<void>;
  recordEvent(
    subject: EventSubject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void>;
  updatePolicyStatus(
    policy: HealthCheckPolicy,
    status: { conditions: V1Condition[] },
  ): Promise<void>;
}

/** The subject of an Event about a namespaced object. */
function namespacedSubject(
  apiVersion: string,
  kind: string,
  obj: { metadata?: { name?: string; namespace?: string; uid?: string } },
): EventSubject {
  return {
    apiVersion,
    kind,
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace ?? 'default',
    ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
  };
}

export function ingressSubject(ingress: V1Ingress): EventSubject {
  return namespacedSubject('networking.k8s.io/v1', 'Ingress', ingress);
}

export function serviceSubject(service: V1Service): EventSubject {
  return namespacedSubject('v1', 'Service', service);
}

export function poolSubject(pool: IPAddressPool): EventSubject {
  return {
    apiVersion: `${PIER_GROUP}/${PIER_VERSION}`,
    kind: 'IPAddressPool',
    name: pool.metadata?.name ?? '',
    ...(pool.metadata?.uid ? { uid: pool.metadata.uid } : {}),
  };
}

/** The component name Events carry (`kubectl describe` shows it under From). */
export const EVENT_SOURCE = 'pier-controller';

export class ClientKubeWriter implements KubeWriter {
  readonly #networking: NetworkingV1Api;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #instance: string;

  constructor(kubeConfig: KubeConfig, instance: string) {
    this.#networking = kubeConfig.makeApiClient(NetworkingV1Api);
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#instance = instance;
  }

  updateIngressStatus(ingress: V1Ingress, addresses: readonly string[]): Promise<V1Ingress> {
    const lb: V1IngressLoadBalancerIngress[] = addresses.map((ip) => ({ ip }));
    return this.#networking.replaceNamespacedIngressStatus({
      name: ingress.metadata?.name ?? '',
      namespace: ingress.metadata?.namespace ?? '',
      body: { ...ingress, status: { loadBalancer: lb.length > 0 ? { ingress: lb } : {} } },
    });
  }

  updateServiceStatus(service: V1Service, write: StatusWrite): Promise<V1Service> {
    // A replace, not a patch: what Pier does not set (another controller's conditions) is
    // written back as read, and a stale read fails with 409 instead of undoing a newer write.
    const status: V1ServiceStatus = { ...service.status };
    if (write.addresses !== undefined) {
      // ipMode VIP: kube-proxy treats the address as the node's own, as with MetalLB.
      const ingress = write.addresses.map((ip) => ({ ip, ipMode: 'VIP' }));
      status.loadBalancer = ingress.length > 0 ? { ingress } : {};
    }
    if (write.conditions !== undefined) status.conditions = write.conditions;
    return this.#core.replaceNamespacedServiceStatus({
      name: service.metadata?.name ?? '',
      namespace: service.metadata?.namespace ?? '',
      body: { ...service, status },
    });
  }

  async updatePoolStatus(pool: IPAddressPool, status: IPAddressPoolStatus): Promise<void> {
    await this.#custom.replaceClusterCustomObjectStatus({
      group: PIER_GROUP,
      version: PIER_VERSION,
      plural: POOL_PLURAL,
      name: pool.metadata?.name ?? '',
      body: { ...pool, status },
    });
  }

  async updatePolicyStatus(
    policy: HealthCheckPolicy,
    status: { conditions: V1Condition[] },
  ): Promise<void> {
    await this.#custom.replaceNamespacedCustomObjectStatus({
      group: PIER_GROUP,
      version: PIER_VERSION,
      plural: POLICY_PLURAL,
      namespace: policy.metadata?.namespace ?? '',
      name: policy.metadata?.name ?? '',
      body: { ...policy, status: { ...policy.status, ...status } },
    });
  }

  async recordEvent(
    subject: EventSubject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date();
    const namespace = subject.namespace ?? 'default';
    await this.#core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${subject.name}.`, namespace },
        involvedObject: {
          apiVersion: subject.apiVersion,
          kind: subject.kind,
          name: subject.name,
          ...(subject.namespace ? { namespace: subject.namespace } : {}),
          ...(subject.uid ? { uid: subject.uid } : {}),
        },
        type,
        reason,
        // The API server caps Event messages at 1 KiB.
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        reportingInstance: this.#instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
