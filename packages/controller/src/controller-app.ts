/**
 * Wires the controller together: watched caches, the address controller,
 * leader election and the ops server. Holds no logic of its own.
 */
import {
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  NetworkingV1Api,
  type V1Ingress,
  type V1IngressClass,
} from '@kubernetes/client-node';
import { type OpsServer, type PierLogger, startOpsServer } from '@pier/shared';
import { AddressController } from './address-controller.ts';
import type { ControllerConfig } from './config.ts';
import { type ControllerMetrics, createControllerMetrics } from './controller-metrics.ts';
import { type IPAddressPool, PIER_GROUP, PIER_VERSION, POOL_PLURAL } from './ip-address-pool.ts';
import { ClientKubeWriter } from './kube-writer.ts';
import { LeaderElector } from './leader-elector.ts';
import { KubeLeaseStore } from './lease-store.ts';
import { WatchedCache } from './watched-cache.ts';

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export class ControllerApp {
  readonly metrics: ControllerMetrics;
  readonly #config: ControllerConfig;
  readonly #log: PierLogger;
  readonly #kc: KubeConfig;
  readonly #caches: {
    ingresses: WatchedCache<V1Ingress>;
    classes: WatchedCache<V1IngressClass>;
    pools: WatchedCache<IPAddressPool>;
  };
  readonly #addresses: AddressController;
  readonly #elector: LeaderElector;
  #ops: OpsServer | undefined;

  constructor(config: ControllerConfig, logger: PierLogger, kubeConfig?: KubeConfig) {
    this.#config = config;
    this.#log = logger;
    this.#kc = kubeConfig ?? loadKubeConfig(config.kubeconfig);
    this.metrics = createControllerMetrics();
    const networking = this.#kc.makeApiClient(NetworkingV1Api);
    const custom = this.#kc.makeApiClient(CustomObjectsApi);
    const onError = (resource: string, err: unknown, retryInMs: number): void => {
      this.metrics.watchRestarts.inc({ resource });
      this.#log.warn({ resource, err: String(err), retryInMs }, 'watch failed; restarting');
    };
    // Handlers are bound late: the address controller needs the caches first.
    let addresses: AddressController | undefined;
    this.#caches = {
      ingresses: new WatchedCache<V1Ingress>({
        kubeConfig: this.#kc,
        resource: 'ingresses',
        path: '/apis/networking.k8s.io/v1/ingresses',
        list: () => networking.listIngressForAllNamespaces(),
        onChange: (_kind, ingress) => addresses?.onIngressChange(ingress),
        onError,
      }),
      classes: new WatchedCache<V1IngressClass>({
        kubeConfig: this.#kc,
        resource: 'ingressclasses',
        path: '/apis/networking.k8s.io/v1/ingressclasses',
        list: () => networking.listIngressClass(),
        onChange: () => addresses?.onClassChange(),
        onError,
      }),
      pools: new WatchedCache<IPAddressPool>({
        kubeConfig: this.#kc,
        resource: 'ipaddresspools',
        path: `/apis/${PIER_GROUP}/${PIER_VERSION}/${POOL_PLURAL}`,
        list: () =>
          custom.listClusterCustomObject({
            group: PIER_GROUP,
            version: PIER_VERSION,
            plural: POOL_PLURAL,
          }) as Promise<KubernetesListObject<IPAddressPool>>,
        onChange: () => addresses?.onPoolChange(),
        onError,
      }),
    };
    addresses = new AddressController({
      ingresses: this.#caches.ingresses,
      classes: this.#caches.classes,
      pools: this.#caches.pools,
      writer: new ClientKubeWriter(this.#kc, config.identity),
      metrics: this.metrics,
      logger: this.#log,
    });
    this.#addresses = addresses;
    this.#elector = new LeaderElector({
      store: new KubeLeaseStore(this.#kc, config.leaseNamespace, config.leaseName),
      identity: config.identity,
      leaseName: config.leaseName,
      leaseNamespace: config.leaseNamespace,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      onStartedLeading: () => void this.#startLeading(networking),
      onStoppedLeading: () => this.#stopLeading(),
      onError: (err) => this.#log.warn({ err: String(err) }, 'leader election attempt failed'),
    });
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  get opsPort(): number | undefined {
    return this.#ops?.port;
  }

  /** Fills the caches, opens the ops server and starts campaigning for leadership. */
  async start(): Promise<void> {
    this.#ops = await startOpsServer({
      host: this.#config.listenHost,
      port: this.#config.listenPort,
      registry: this.metrics.registry,
      readiness: () => {
        const pending = Object.values(this.#caches).filter((c) => !c.synced);
        return pending.length > 0
          ? `caches not synced: ${pending.map((c) => c.resource).join(', ')}`
          : undefined;
      },
    });
    await Promise.all(Object.values(this.#caches).map((c) => c.start()));
    this.#log.info(
      { identity: this.#config.identity, opsPort: this.#ops.port },
      'caches synced; campaigning',
    );
    this.#elector.start();
  }

  /** Graceful stop: finish writes, release the Lease, close watches and the ops server. */
  async stop(): Promise<void> {
    await this.#elector.stop();
    await Promise.all(Object.values(this.#caches).map((c) => c.stop()));
    await this.#ops?.close();
  }

  async #startLeading(networking: NetworkingV1Api): Promise<void> {
    this.metrics.isLeader.set(1);
    this.#log.info({ identity: this.#config.identity }, 'became leader');
    // A fresh list, not the cache: the previous leader's last writes must be seen.
    for (let attempt = 0; this.#elector.isLeader; attempt++) {
      try {
        const fresh = await networking.listIngressForAllNamespaces();
        if (!this.#elector.isLeader) return;
        this.#addresses.startLeading(fresh.items);
        return;
      } catch (err) {
        this.#log.warn(
          { err: String(err), attempt },
          'listing Ingresses to restore allocations failed',
        );
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }

  async #stopLeading(): Promise<void> {
    this.metrics.isLeader.set(0);
    this.#log.info({ identity: this.#config.identity }, 'stopped leading');
    await this.#addresses.stopLeading();
  }
}
