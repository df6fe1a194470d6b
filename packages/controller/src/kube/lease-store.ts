/**
 * The leader Lease in the Kubernetes API (`coordination.k8s.io/v1`).
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { LeaseStore } from './leader-elector.ts';

export class KubeLeaseStore implements LeaseStore {
  readonly #api: CoordinationV1Api;
  readonly #name: string;
  readonly #namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string, name: string) {
    this.#api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.#namespace = namespace;
    this.#name = name;
  }

  async get(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  create(lease: V1Lease): Promise<V1Lease> {
    return this.#api.createNamespacedLease({ namespace: this.#namespace, body: lease });
  }

  replace(lease: V1Lease): Promise<V1Lease> {
    return this.#api.replaceNamespacedLease({
      name: this.#name,
      namespace: this.#namespace,
      body: lease,
    });
  }
}
