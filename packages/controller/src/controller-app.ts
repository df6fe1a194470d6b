/**
 * Wires the controller together: watched caches, the address controller,
 * leader election and the ops server. Holds no logic of its own.
 */
import {
  CoreV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Ingress,
  type V1IngressClass,
  type V1Namespace,
  type V1Node,
  type V1ObjectMeta,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import {
  DEFAULT_HEALTH_CHECK,
  type OpsServer,
  type PierLogger,
  readKeyRingFile,
  startOpsServer,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { AddressController, type AnyClaimKind } from './addresses/address-controller.ts';
import {
  type IPAddressPool,
  PIER_GROUP,
  PIER_VERSION,
  POOL_PLURAL,
} from './addresses/ip-address-pool.ts';
import type { ControllerConfig } from './config.ts';
import { type ControllerMetrics, createControllerMetrics } from './controller-metrics.ts';
import { ClusterDashboardSource } from './dashboard/cluster-dashboard-source.ts';
import { type DashboardServer, startDashboardServer } from './dashboard/dashboard-server.ts';
import { ingressClaims } from './ingress/ingress-claims.ts';
import { joinSources } from './kube/joined-source.ts';
import { ClientKubeWriter, POLICY_PLURAL } from './kube/kube-writer.ts';
import { LeaderElector } from './kube/leader-elector.ts';
import { KubeLeaseStore } from './kube/lease-store.ts';
import {
  trimAuthSecret,
  trimCustomObject,
  trimEndpointSlice,
  trimIngress,
  trimIngressClass,
  trimNamespace,
  trimNode,
  trimSecret,
  trimService,
} from './kube/object-trim.ts';
import { listInPages } from './kube/paged-list.ts';
import { PooledKubeConfig } from './kube/pooled-kube-config.ts';
import { rawListPage } from './kube/raw-list.ts';
import { WatchedCache } from './kube/watched-cache.ts';
import { compileL2Announcements } from './l2/l2-plan.ts';
import { L2Publisher } from './l2/l2-publisher.ts';
import { Maintenance } from './maintenance.ts';
import { KeySealer } from './routes/key-sealer.ts';
import { PublicationLoop } from './routes/publication-loop.ts';
import type { HealthCheckPolicy } from './routes/route-compiler.ts';
import { RouteController, type RouteInputKind } from './routes/route-controller.ts';
import { RouteInputs } from './routes/route-inputs.ts';
import { ROUTE_PUBLISHER_REDIS_OPTIONS, RoutePublisher } from './routes/route-publisher.ts';
import {
  isLocalLoadBalancer,
  localNodesFor,
  readyNodesByService,
  sliceService,
} from './services/local-endpoints.ts';
import { serviceClaims } from './services/service-claims.ts';

/** API paths of the Ingresses and Services of all namespaces: watched, and listed on leading. */
const INGRESSES_PATH = '/apis/networking.k8s.io/v1/ingresses';
const SERVICES_PATH = '/api/v1/services';

export function loadKubeConfig(path: string | undefined): KubeConfig {
  // One connection pool for every request (see pooled-kube-config.ts).
  const kc = new PooledKubeConfig();
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
    services: WatchedCache<V1Service>;
    endpointSlices: WatchedCache<V1EndpointSlice>;
    secrets: WatchedCache<V1Secret>;
    authSecrets: WatchedCache<V1Secret>;
    policies: WatchedCache<HealthCheckPolicy>;
    nodes: WatchedCache<V1Node>;
    namespaces: WatchedCache<V1Namespace>;
  };
  readonly #addresses: AddressController;
  readonly #claims: readonly AnyClaimKind[];
  readonly #routes: RouteController;
  readonly #maintenance: Maintenance;
  readonly #elector: LeaderElector;
  readonly #l2: L2Publisher;
  readonly #redis: Redis;
  #publisher: RoutePublisher | undefined;
  #ops: OpsServer | undefined;
  #dashboard: { server: DashboardServer; redis: Redis } | undefined;

  constructor(config: ControllerConfig, logger: PierLogger, kubeConfig?: KubeConfig) {
    this.#config = config;
    this.#log = logger;
    this.#kc = kubeConfig ?? loadKubeConfig(config.kubeconfig);
    this.metrics = createControllerMetrics();
    const keyRing = readKeyRingFile(config.keyRingFile, '--key-ring-file ($PIER_KEY_RING_FILE)');
    this.#redis = new Redis(config.redisUrl, {
      ...ROUTE_PUBLISHER_REDIS_OPTIONS,
      ...(config.redisPassword ? { password: config.redisPassword } : {}),
      lazyConnect: true,
    });
    this.#redis.on('error', (err: Error) =>
      this.#log.debug({ err: err.message }, 'redis connection error'),
    );
    this.#redis.on('ready', () => this.metrics.redisConnected.set(1));
    this.#redis.on('close', () => this.metrics.redisConnected.set(0));
    const onError = (resource: string, err: unknown, retryInMs: number): void => {
      this.metrics.watchRestarts.inc({ resource });
      this.#log.warn({ resource, err: String(err), retryInMs }, 'watch failed; restarting');
    };
    const routeInputs = new RouteInputs();
    // Handlers are bound late: the controllers need the caches first.
    let addresses: AddressController | undefined;
    let routes: RouteController | undefined;
    let l2: L2Publisher | undefined;
    /** `object` of `kind` changed; without them, anything may have (compile everything). */
    const routesChanged = (kind?: RouteInputKind, object?: { metadata?: V1ObjectMeta }): void =>
      routes?.onChange(kind, object);
    this.#caches = {
      ingresses: new WatchedCache<V1Ingress>({
        kubeConfig: this.#kc,
        resource: 'ingresses',
        trim: trimIngress,
        path: INGRESSES_PATH,
        onChange: (kind, ingress) => {
          addresses?.onClaimChange('Ingress', ingress);
          // Writing an address to status changes the Ingress too; that must not cost a
          // recompile of the whole table (it would, once per Ingress of a burst).
          if (routeInputs.changed('ingress', kind, ingress)) routesChanged('Ingress', ingress);
        },
        onError,
      }),
      classes: new WatchedCache<V1IngressClass>({
        kubeConfig: this.#kc,
        resource: 'ingressclasses',
        trim: trimIngressClass,
        path: '/apis/networking.k8s.io/v1/ingressclasses',
        onChange: () => {
          addresses?.onClassChange();
          routesChanged();
        },
        onError,
      }),
      pools: new WatchedCache<IPAddressPool>({
        kubeConfig: this.#kc,
        resource: 'ipaddresspools',
        trim: trimCustomObject,
        path: `/apis/${PIER_GROUP}/${PIER_VERSION}/${POOL_PLURAL}`,
        onChange: () => {
          addresses?.onPoolChange();
          l2?.nudge();
        },
        onError,
      }),
      // Node labels decide which edge nodes may announce an L2 pool's addresses.
      nodes: new WatchedCache<V1Node>({
        kubeConfig: this.#kc,
        resource: 'nodes',
        trim: trimNode,
        path: '/api/v1/nodes',
        onChange: () => l2?.nudge(),
        onError,
      }),
      services: new WatchedCache<V1Service>({
        kubeConfig: this.#kc,
        resource: 'services',
        trim: trimService,
        path: SERVICES_PATH,
        onChange: (kind, service) => {
          addresses?.onClaimChange('Service', service);
          // Its externalTrafficPolicy decides which nodes may announce its address.
          l2?.nudge();
          // A status write (its address) changes no route.
          if (routeInputs.changed('service', kind, service)) routesChanged('Service', service);
        },
        onError,
      }),
      endpointSlices: new WatchedCache<V1EndpointSlice>({
        kubeConfig: this.#kc,
        resource: 'endpointslices',
        trim: trimEndpointSlice,
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        onChange: (_kind, slice) => {
          routesChanged('EndpointSlice', slice);
          // Ready local endpoints decide where a Local Service's address may be announced.
          const service = sliceService(slice);
          const [namespace, name] = service?.split('/') ?? [];
          if (isLocalLoadBalancer(this.#caches.services.get(name ?? '', namespace))) l2?.nudge();
        },
        onError,
      }),
      // Namespace labels decide which pools a Service may use (serviceAllocation).
      namespaces: new WatchedCache<V1Namespace>({
        kubeConfig: this.#kc,
        resource: 'namespaces',
        trim: trimNamespace,
        path: '/api/v1/namespaces',
        onChange: () => addresses?.onClassChange(),
        onError,
      }),
      // TLS Secrets, and the Opaque ones basic authentication reads its users from, each trimmed
      // to what Pier reads of it: other Secrets are none of Pier's business.
      secrets: new WatchedCache<V1Secret>({
        kubeConfig: this.#kc,
        resource: 'secrets',
        trim: trimSecret,
        path: '/api/v1/secrets',
        fieldSelector: 'type=kubernetes.io/tls',
        onChange: (_kind, secret) => routesChanged('Secret', secret),
        onError,
      }),
      authSecrets: new WatchedCache<V1Secret>({
        kubeConfig: this.#kc,
        resource: 'secrets-opaque',
        trim: trimAuthSecret,
        path: '/api/v1/secrets',
        fieldSelector: 'type=Opaque',
        onChange: (_kind, secret) => routesChanged('Secret', secret),
        onError,
      }),
      policies: new WatchedCache<HealthCheckPolicy>({
        kubeConfig: this.#kc,
        resource: 'healthcheckpolicies',
        trim: trimCustomObject,
        path: `/apis/${PIER_GROUP}/${PIER_VERSION}/${POLICY_PLURAL}`,
        // The conditions the controller writes change the policy too: 10,000 of them at a first
        // start must not cost a compile each.
        onChange: (kind, policy) => {
          if (routeInputs.changed('policy', kind, policy))
            routesChanged('HealthCheckPolicy', policy);
        },
        onError,
      }),
    };
    const writer = new ClientKubeWriter(this.#kc, config.identity);
    routes = new RouteController({
      ingresses: this.#caches.ingresses,
      classes: this.#caches.classes,
      ingressClassCompat: config.ingressClassCompat,
      services: this.#caches.services,
      endpointSlices: this.#caches.endpointSlices,
      secrets: joinSources(this.#caches.secrets, this.#caches.authSecrets),
      policies: this.#caches.policies,
      addressesOf: (ingress) => addresses?.addressesOf(ingress) ?? [],
      defaultHealthCheck: DEFAULT_HEALTH_CHECK,
      sealer: new KeySealer(keyRing),
      writer,
      metrics: this.metrics,
      logger: this.#log,
    });
    this.#routes = routes;
    this.#claims = [
      ingressClaims({
        ingresses: this.#caches.ingresses,
        classes: this.#caches.classes,
        compat: config.ingressClassCompat,
        writer,
      }),
      serviceClaims({
        services: this.#caches.services,
        writer,
        servesWithoutClass: config.servicesWithoutClass,
      }),
    ];
    addresses = new AddressController({
      claims: this.#claims,
      namespaces: this.#caches.namespaces,
      pools: this.#caches.pools,
      writer,
      metrics: this.metrics,
      logger: this.#log,
      awaitPublished: () => routes.ensurePublished(),
      holdersOf: (pool) => l2?.holdersOf(pool),
      onAllocationsChange: () => l2?.nudge(),
      onAddressesChange: (changed) => routes.addressesChanged(changed),
    });
    this.#addresses = addresses;
    const allocations = addresses;
    l2 = new L2Publisher({
      redis: this.#redis,
      logger: this.#log,
      metrics: this.metrics,
      compile: () => {
        const pools = this.#caches.pools.list();
        const nodes = this.#caches.nodes
          .list()
          .map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} }));
        const services = this.#caches.services;
        let ready: Map<string, Set<string>> | undefined;
        const readyNodes = (): Map<string, Set<string>> => {
          ready ??= readyNodesByService(this.#caches.endpointSlices.list());
          return ready;
        };
        const localNodes = (address: string): ReadonlySet<string> | undefined =>
          localNodesFor(
            allocations.holdersOf(address),
            (nn) => {
              const slash = nn.indexOf('/');
              return services.get(nn.slice(slash + 1), nn.slice(0, slash));
            },
            readyNodes,
          );
        // Most clusters have no Local Service: then no address needs its owners looked up.
        const anyLocal = services.list().some(isLocalLoadBalancer);
        return {
          announcements: compileL2Announcements(
            pools,
            nodes,
            allocations.assigned(),
            anyLocal ? localNodes : undefined,
          ),
          l2Pools: pools.filter((p) => p.spec?.l2).map((p) => p.metadata?.name ?? ''),
        };
      },
      onHolders: () => allocations.onHoldersChange(),
    });
    this.#l2 = l2;
    this.#maintenance = new Maintenance({
      certificates: () => routes.certificates,
      repairDrift: async () => (await routes.loop?.repairDrift()) ?? false,
      trimLog: async () => {
        await this.#publisher?.trimLog();
      },
      writer,
      metrics: this.metrics,
      logger: this.#log,
    });
    this.#elector = new LeaderElector({
      store: new KubeLeaseStore(this.#kc, config.leaseNamespace, config.leaseName),
      identity: config.identity,
      leaseName: config.leaseName,
      leaseNamespace: config.leaseNamespace,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      onStartedLeading: () => void this.#startLeading(),
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

  /** The dashboard's URL, when it is on (`--dashboard-listen`). */
  get dashboardUrl(): string | undefined {
    return this.#dashboard?.server.url;
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
    // Fails fast only on a bad URL; an unreachable Redis is retried by ioredis.
    void this.#redis.connect().catch((err: unknown) => {
      this.#log.warn({ err: String(err) }, 'Redis not reachable yet; retrying');
    });
    if (this.#config.dashboard) await this.#startDashboard(this.#config.dashboard);
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
    this.#redis.disconnect();
    await this.#dashboard?.server.close();
    this.#dashboard?.redis.disconnect();
    await this.#ops?.close();
  }

  /**
   * The read-only dashboard, on every replica: it reads the caches and, on a Redis connection of
   * its own (never queued behind a publication), what the fleet shares.
   */
  async #startDashboard(listen: { host: string; port: number }): Promise<void> {
    const redis = new Redis(this.#config.redisUrl, {
      ...(this.#config.redisPassword ? { password: this.#config.redisPassword } : {}),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
    });
    redis.on('error', (err: Error) =>
      this.#log.debug({ err: err.message }, 'dashboard redis connection error'),
    );
    const server = await startDashboardServer({
      host: listen.host,
      port: listen.port,
      logger: this.#log,
      source: new ClusterDashboardSource({
        redis,
        core: this.#kc.makeApiClient(CoreV1Api),
        pools: () => this.#caches.pools.list(),
        ingresses: () => this.#caches.ingresses.list(),
        services: () => this.#caches.services.list(),
        identity: this.#config.identity,
        isLeader: () => this.#elector.isLeader,
      }),
    });
    this.#dashboard = { server, redis };
    this.#log.info({ url: server.url }, 'dashboard listening');
  }

  async #startLeading(): Promise<void> {
    this.metrics.isLeader.set(1);
    this.#log.info({ identity: this.#config.identity }, 'became leader');
    // A fresh list, not the cache: the previous leader's last writes must be seen.
    for (let attempt = 0; this.#elector.isLeader; attempt++) {
      try {
        // In pages and trimmed as the caches keep them: the restore reads what the caches hold.
        const [ingresses, services] = await Promise.all([
          listInPages(rawListPage<V1Ingress>(this.#kc, INGRESSES_PATH), trimIngress),
          listInPages(rawListPage<V1Service>(this.#kc, SERVICES_PATH), trimService),
        ]);
        if (!this.#elector.isLeader) return;
        this.#publisher = new RoutePublisher({
          redis: this.#redis,
          logger: this.#log,
          onPublished: (revision, ms, bytes) => {
            this.metrics.publishDuration.observe(ms / 1000);
            this.metrics.publishBytes.observe(bytes);
            this.metrics.routeRevision.set(revision);
          },
        });
        const loop = new PublicationLoop({
          publisher: this.#publisher,
          logger: this.#log,
          redis: this.#redis,
          onError: () => this.metrics.publishFailures.inc(),
        });
        this.#addresses.startLeading(
          new Map<string, readonly object[]>([
            ['Ingress', ingresses.items],
            ['Service', services.items],
          ]),
        );
        this.#routes.startLeading(loop);
        this.#l2.start();
        this.#maintenance.start();
        return;
      } catch (err) {
        this.#log.warn(
          { err: String(err), attempt },
          'listing Ingresses and Services to restore allocations failed',
        );
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }

  async #stopLeading(): Promise<void> {
    this.metrics.isLeader.set(0);
    this.#log.info({ identity: this.#config.identity }, 'stopped leading');
    await this.#maintenance.stop();
    this.#l2.stop();
    await Promise.all([this.#routes.stopLeading(), this.#addresses.stopLeading()]);
    // What only the leader keeps up to date goes with the leadership: a replica's stale value
    // would stand beside the new leader's in every query and alert.
    const m = this.metrics;
    for (const gauge of [m.poolSize, m.poolAssigned, m.poolAvailable, m.certificateExpirySeconds]) {
      gauge.reset();
    }
  }
}
