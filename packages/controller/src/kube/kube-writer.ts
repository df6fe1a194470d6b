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
  PatchStrategy,
  setHeaderOptions,
  type V1Condition,
  type V1Ingress,
  type V1IngressLoadBalancerIngress,
  type V1Service,
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
  /**
   * Sets `status.loadBalancer.ingress` through the status subresource, by a merge patch that
   * touches nothing else (optimistic: 409 if `ingress` is stale).
   */
  updateIngressStatus(ingress: V1Ingress, addresses: readonly string[]): Promise<V1Ingress>;
  /**
   * Sets a Service's `status.loadBalancer.ingress` (`ipMode: VIP`) and/or its conditions in one
   * merge patch that touches nothing else (optimistic: 409 if `service` is stale).
   */
  updateServiceStatus(service: V1Service, write: StatusWrite): Promise<V1Service>;
  updatePoolStatus(pool: IPAddressPool, status: IPAddressPoolStatus): Promise<void>;
  /**
   * Sets one annotation of Pier's own on an Ingress (removes it when `value` is undefined), by a
   * merge patch of that key alone: nothing else of the Ingress is touched or read back.
   */
  setIngressAnnotation(ingress: V1Ingress, key: string, value: string | undefined): Promise<void>;
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

/** Request options of a JSON merge patch (RFC 7386): objects merge, lists and values replace. */
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * A merge patch of `status` on `obj`, fenced by the resourceVersion it was read at: a stale read
 * fails with 409 as a replace would. A patch, not a replace, because the watched caches keep
 * trimmed objects (object-trim.ts): the status subresource of an Ingress or a Service takes
 * labels, annotations, finalizers and owner references from the body, so replacing it with a
 * cached object would erase what the trim dropped.
 */
function statusPatch(
  obj: { metadata?: { resourceVersion?: string } },
  status: Record<string, unknown>,
): Record<string, unknown> {
  const resourceVersion = obj.metadata?.resourceVersion;
  return { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status };
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
    return this.#networking.patchNamespacedIngressStatus(
      {
        name: ingress.metadata?.name ?? '',
        namespace: ingress.metadata?.namespace ?? '',
        body: statusPatch(ingress, { loadBalancer: { ingress: lb.length > 0 ? lb : null } }),
      },
      MERGE_PATCH,
    );
  }

  updateServiceStatus(service: V1Service, write: StatusWrite): Promise<V1Service> {
    // The fields Pier sets, each whole (a merge patch replaces lists): what it does not set
    // (another controller's conditions) stays as the API server holds it, which is what was
    // read, since a stale read fails with 409 instead of undoing a newer write.
    const status: Record<string, unknown> = {};
    if (write.addresses !== undefined) {
      // ipMode VIP: kube-proxy treats the address as the node's own, as with MetalLB.
      const ingress = write.addresses.map((ip) => ({ ip, ipMode: 'VIP' }));
      status.loadBalancer = { ingress: ingress.length > 0 ? ingress : null };
    }
    if (write.conditions !== undefined) status.conditions = write.conditions;
    return this.#core.patchNamespacedServiceStatus(
      {
        name: service.metadata?.name ?? '',
        namespace: service.metadata?.namespace ?? '',
        body: statusPatch(service, status),
      },
      MERGE_PATCH,
    );
  }

  async setIngressAnnotation(
    ingress: V1Ingress,
    key: string,
    value: string | undefined,
  ): Promise<void> {
    await this.#networking.patchNamespacedIngress(
      {
        name: ingress.metadata?.name ?? '',
        namespace: ingress.metadata?.namespace ?? '',
        body: { metadata: { annotations: { [key]: value ?? null } } },
      },
      MERGE_PATCH,
    );
  }

  // The custom resources' status subresource takes only `status` from the body and keeps the
  // rest as stored, so replacing it with a trimmed cached object erases nothing.
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
