/**
 * Wires one dataplane worker: route sync (disk, then Redis), the route index,
 * TLS, balancers, shared health, the proxy and its listeners. Holds no logic
 * of its own: each part is its own module. The route source and the health
 * keeper default to the Redis-backed ones; standalone mode hands in its own
 * ({@link DataplaneParts}).
 */
import type { IncomingMessage } from 'node:http';
import {
  type Backend,
  cookieValue,
  type PierLogger,
  type RouteTable,
  readKeyRingFile,
  SlicedQueue,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { BasicAuthGate } from './auth/basic-auth-gate.ts';
import { ExternalAuthClient } from './auth/external-auth.ts';
import { PasswordThread } from './auth/password-thread.ts';
import { BackgroundThread } from './background/background-thread.ts';
import type { DataplaneConfig } from './config.ts';
import type { DataplaneMetrics } from './dataplane-metrics.ts';
import type {
  DataplaneHealth,
  DataplaneParts,
  HealthEvents,
  RouteSource,
  RouteSourceHandlers,
} from './dataplane-parts.ts';
import { HealthChecker, healthCheckerRedisOptions } from './health/health-checker.ts';
import { IpCommandAnnouncer } from './l2/l2-announcer.ts';
import { L2Speaker } from './l2/l2-speaker.ts';
import { hashKeyOf } from './proxy/hash-key.ts';
import {
  type RunningListener,
  startHttpListener,
  startHttpsListener,
} from './proxy/http-listeners.ts';
import type { EndpointChoice, ProxyEvent } from './proxy/proxy-events.ts';
import { createProxyHandler, type ProxyDeps } from './proxy/proxy-handler.ts';
import { assertProxyOptions, DEFAULT_PROXY_OPTIONS } from './proxy/proxy-options.ts';
import { RateLimits } from './proxy/rate-limits.ts';
import { RATE_IDLE_MS } from './proxy/request-rate-zone.ts';
import { createUpgradeHandler } from './proxy/upgrade-handler.ts';
import { UpstreamDispatchers } from './proxy/upstream-dispatchers.ts';
import { ServedRoutes } from './served-routes.ts';
import { generateDefaultCertificate, loadCertificateFiles } from './tls/default-certificate.ts';
import { TlsStore } from './tls/tls-store.ts';

export interface WorkerRole {
  index: number;
  count: number;
  /** Whether this worker sends the node's probes and heartbeats (one per node). */
  probes: boolean;
  /** Listen with SO_REUSEPORT so every worker accepts on the same ports. */
  reusePort: boolean;
}

function redisOptions(config: DataplaneConfig): { password?: string } {
  return config.redisPassword ? { password: config.redisPassword } : {};
}

export class DataplaneApp {
  readonly #config: DataplaneConfig;
  readonly #log: PierLogger;
  readonly #metrics: DataplaneMetrics;
  readonly #role: WorkerRole;
  readonly #routes: ServedRoutes;
  /** Table updates, applied in slices one after another (of several waiting, the newest). */
  readonly #applying: SlicedQueue;
  readonly #offerTable: (table: RouteTable) => void;
  readonly #dispatchers: UpstreamDispatchers;
  /** The rate limits' counters, shared by the listeners of this worker. */
  readonly #rateLimits: RateLimits;
  #rateLimitSweep: NodeJS.Timeout | undefined;
  #tls: TlsStore | undefined;
  /** Basic authentication of routes that ask for it; its thread starts at the first bcrypt check. */
  #auth: BasicAuthGate | undefined;
  /** The auth services of routes with external authentication (auth-url). */
  readonly #externalAuth = new ExternalAuthClient({
    onDecision: (zone, outcome) => this.#metrics.externalAuthDecisions.inc({ zone, outcome }),
    onCache: (result) => this.#metrics.externalAuthCache.inc({ result }),
    onFailure: (auth, err) =>
      this.#log.debug(
        { zone: auth.zone, err: err instanceof Error ? err.message : String(err) },
        'an auth request failed; answered 500',
      ),
  });
  readonly #passwords = new PasswordThread();
  #health: DataplaneHealth | undefined;
  #sync: RouteSource | undefined;
  readonly #parts: DataplaneParts;
  #l2: L2Speaker | undefined;
  readonly #connections: Redis[] = [];
  readonly #listeners: RunningListener[] = [];
  #draining = false;

  constructor(
    config: DataplaneConfig,
    logger: PierLogger,
    metrics: DataplaneMetrics,
    role: WorkerRole,
    parts: DataplaneParts = {},
  ) {
    this.#parts = parts;
    this.#config = config;
    this.#log = logger;
    this.#metrics = metrics;
    metrics.countEjected = () => this.#health?.ejectedCounts(Date.now()) ?? new Map();
    this.#role = role;
    this.#dispatchers = new UpstreamDispatchers({ connectTimeoutMs: config.connectTimeoutMs });
    this.#rateLimits = new RateLimits({
      clock: () => Math.floor(performance.now()),
      onRefused: (zone, kind) => metrics.countRateLimited(zone, kind),
    });
    this.#applying = new SlicedQueue(
      (err) => this.#log.error({ err }, 'route table could not be applied'),
      (ms) => metrics.routeApply.observe({ stage: 'apply' }, ms / 1000),
    );
    this.#routes = new ServedRoutes({
      dispatchers: this.#dispatchers,
      metrics: this.#metrics,
      logger: this.#log,
    });
    this.#offerTable = this.#applying.newest((table: RouteTable) =>
      this.#routes.apply(table, this.#tls, this.#health),
    );
  }

  /** Serving a table (from disk or Redis) on every configured listener. */
  get ready(): boolean {
    return !this.#draining && this.#routes.table !== undefined && this.#listeners.length > 0;
  }

  get listeners(): readonly RunningListener[] {
    return this.#listeners;
  }

  async start(): Promise<void> {
    const c = this.#config;
    const keyRing =
      this.#parts.keyRing ??
      readKeyRingFile(c.keyRingFile, '--key-ring-file ($PIER_KEY_RING_FILE)');
    const defaultCertificate =
      c.defaultCertFile && c.defaultKeyFile
        ? await loadCertificateFiles(c.defaultCertFile, c.defaultKeyFile)
        : await generateDefaultCertificate();
    this.#tls = new TlsStore({ keyRing, defaultCertificate, logger: this.#log });
    this.#auth = new BasicAuthGate({
      keyRing,
      thread: this.#passwords,
      onOutcome: (outcome) => this.#metrics.basicAuthChecks.inc({ outcome }),
      onOpenFailed: (auth, err) =>
        this.#log.error(
          { ...auth.secret, err: err instanceof Error ? err.message : String(err) },
          "a route's basic-auth users could not be opened; its requests are answered 503",
        ),
    });

    const events: HealthEvents = {
      onProbe: (result) => {
        this.#metrics.probes.inc({ result: result.ok ? 'healthy' : 'unhealthy' });
        this.#metrics.ownedProbes.set(this.#health?.owned ?? 0);
      },
      onTransition: (backendId, endpointId, _from, to) => {
        const healthy = to === 'unhealthy' ? 0 : 1;
        this.#metrics.endpointHealthy.set({ backend: backendId, endpoint: endpointId }, healthy);
      },
    };
    const handlers: RouteSourceHandlers = {
      onTable: (table) => this.#offerTable(table),
      patch: {
        ready: () => !this.#applying.busy && this.#routes.table !== undefined,
        apply: (table, changed) => {
          const started = performance.now();
          this.#routes.patch(table, changed, this.#tls, this.#health);
          this.#metrics.routeApply.observe(
            { stage: 'apply' },
            (performance.now() - started) / 1000,
          );
        },
      },
      onProblems: (problems) => {
        for (const p of problems) this.#metrics.tableProblems.inc({ section: p.section });
        this.#log.warn(
          { problems: problems.slice(0, 10), count: problems.length },
          'route table entries skipped',
        );
      },
    };
    // By default the routes and the health state are both kept on the background thread; parts
    // handed in (standalone mode) replace either.
    const background = this.#parts.routes
      ? undefined
      : this.#background(handlers, this.#parts.health ? undefined : events);
    this.#health = this.#parts.health?.(events) ?? background?.health ?? this.#redisHealth(events);
    // Serving never waits for Redis: the saved table and the listeners come first, the shared
    // health state (which needs Redis) is awaited only briefly.
    const healthStarted = this.#health.start().catch((err: unknown) => {
      this.#log.warn({ err: String(err) }, 'health checking starts without Redis');
    });
    this.#sync = this.#parts.routes?.(handlers) ?? (background as BackgroundThread);
    await this.#sync.start();
    // The saved table, handed over by start(), is applied before anything listens.
    await this.#applying.idle();
    // L2 mode: one speaker per node, in the worker that keeps the heartbeat (docs/l2.md).
    if (c.l2 && this.#role.probes) {
      this.#l2 = new L2Speaker({
        ...c.l2,
        redis: this.#connect(healthCheckerRedisOptions()),
        node: c.nodeName,
        announcer: new IpCommandAnnouncer(),
        logger: this.#log,
        onHeld: (address, iface, held) => {
          if (held) this.#metrics.l2Held.set({ address, interface: iface }, 1);
          else this.#metrics.l2Held.remove({ address, interface: iface });
        },
        onLeaseEvent: (event) => this.#metrics.l2LeaseEvents.inc({ event }),
      });
      this.#l2.start();
    }
    // Do not serve endpoints the fleet already knows to be unhealthy when Redis can tell us.
    const health = this.#health;
    await Promise.race([
      healthStarted.then(() => health.synced()),
      new Promise((r) => setTimeout(r, 1_000).unref()),
    ]);
    // One timer for every zone: idle addresses are forgotten a minute or so after they went quiet.
    this.#rateLimitSweep = setInterval(() => this.#rateLimits.sweep(), RATE_IDLE_MS);
    this.#rateLimitSweep.unref();
    await this.#listen();
  }

  /** Graceful drain: stop accepting, finish in-flight requests, hand probe ownership over. */
  async stop(graceMs = this.#config.drainGraceMs): Promise<void> {
    this.#draining = true;
    clearInterval(this.#rateLimitSweep);
    // Addresses go first (removed, then leases released), so a peer takes over while this node
    // still finishes what it has in flight.
    await this.#l2?.stop();
    await Promise.allSettled(this.#listeners.map((l) => l.close(graceMs)));
    await this.#health?.stop({ release: true });
    await this.#sync?.stop();
    await this.#dispatchers.close();
    await this.#externalAuth.close();
    await this.#passwords.close();
    for (const r of this.#connections) r.disconnect();
  }

  #connect(options: object): Redis {
    const c = this.#config;
    const r = new Redis(c.redisUrl, { ...options, ...redisOptions(c), lazyConnect: false });
    r.on('error', (err: Error) => this.#log.debug({ err: err.message }, 'redis connection error'));
    this.#connections.push(r);
    return r;
  }

  #redisHealth(events: HealthEvents): HealthChecker {
    return new HealthChecker({
      redis: this.#connect(healthCheckerRedisOptions()),
      subscriber: this.#connect(healthCheckerRedisOptions()),
      node: this.#config.nodeName,
      logger: this.#log,
      probes: this.#role.probes,
      onProbe: events.onProbe,
      onTransition: events.onTransition,
    });
  }

  #background(handlers: RouteSourceHandlers, events: HealthEvents | undefined): BackgroundThread {
    const c = this.#config;
    return new BackgroundThread({
      redisUrl: c.redisUrl,
      ...(c.redisPassword ? { redisPassword: c.redisPassword } : {}),
      stateFile: c.stateFile,
      logLevel: c.logLevel,
      logger: this.#log,
      handlers,
      onRedis: (connected) => this.#metrics.redisConnected.set(connected ? 1 : 0),
      onReceived: (ms) => this.#metrics.routeApply.observe({ stage: 'receive' }, ms / 1000),
      ...(events === undefined
        ? {}
        : { health: { node: c.nodeName, probes: this.#role.probes, events } }),
    });
  }

  #proxyDeps(scheme: 'http' | 'https', httpsPort: number): ProxyDeps {
    const c = this.#config;
    const trusted = new Set(c.trustedProxies);
    const options = assertProxyOptions({
      ...DEFAULT_PROXY_OPTIONS,
      scheme,
      connectTimeoutMs: c.connectTimeoutMs,
      headersTimeoutMs: c.responseHeaderTimeoutMs,
      idleTimeoutMs: c.idleTimeoutMs,
      maxRequestBodyBytes: c.maxRequestBodyBytes,
      trustedProxies: (address) => trusted.has(address),
      httpsPort,
    });
    return {
      lookup: (address, host, path) => this.#routes.index.lookup(address, host, path),
      choose: (backend, req, tried) => this.#choose(backend, req, tried),
      pinned: (backend, cookie) => this.#routes.balancer(backend.id)?.pins(cookie) === true,
      begin: (backendId, endpointId) => this.#routes.balancer(backendId)?.begin(endpointId),
      end: (backendId, endpointId, outcome, _ms, cause) => {
        this.#routes.balancer(backendId)?.end(endpointId);
        // Counted per attempt: a failure that a retry hid still shows here.
        if (outcome === 'failure') {
          this.#metrics.upstreamErrors.inc({ backend: backendId, kind: cause ?? 'failure' });
        }
        if (outcome !== 'aborted')
          this.#health?.reportResult(backendId, endpointId, outcome === 'success', Date.now());
      },
      dispatchers: this.#dispatchers,
      observe: (event) => this.#observe(event),
      intercepted: (status, answer) =>
        this.#metrics.interceptedResponses.inc({ code: String(status), answer }),
      rateLimits: this.#rateLimits,
      options,
      ...(this.#auth === undefined ? {} : { basicAuth: this.#auth }),
      externalAuth: this.#externalAuth,
      logger: this.#log,
    };
  }

  #choose(
    backend: Backend,
    req: IncomingMessage,
    tried: ReadonlySet<string>,
  ): EndpointChoice | undefined {
    const balancer = this.#routes.balancer(backend.id);
    if (!balancer) return undefined;
    const now = Date.now();
    const health = this.#health;
    // The backend's own affinity, or on a canary route the one it borrows (RouteSplit).
    const affinity = backend.balancing.affinity;
    const pick = balancer.pick({
      now,
      usable: (id) => health?.usable(backend.id, id, now) ?? true,
      exclude: tried,
      affinity: affinity ?? null,
      ...(affinity
        ? {
            affinityCookie: cookieValue(req.headers.cookie, affinity.cookieName),
            https: (req.socket as { encrypted?: boolean }).encrypted === true,
            ...(affinity.cookie?.conditionalSameSiteNone === true
              ? { userAgent: req.headers['user-agent'] }
              : {}),
          }
        : {}),
      ...(backend.balancing.hashBy === undefined
        ? {}
        : { hashKey: hashKeyOf(backend.balancing.hashBy, req) }),
    });
    if (!pick) return undefined;
    return {
      id: pick.id,
      address: pick.endpoint.address,
      port: pick.endpoint.port,
      ...(pick.setCookie ? { setCookie: pick.setCookie } : {}),
    };
  }

  #observe(event: ProxyEvent): void {
    const m = this.#metrics;
    m.requests.record(
      event.virtualHost ?? '',
      event.status,
      event.backend ?? '',
      event.headersMs === undefined ? undefined : event.headersMs / 1000,
    );
    if (this.#config.accessLog) {
      this.#log.info(
        {
          host: event.host,
          status: event.status,
          backend: event.backend,
          endpoint: event.endpoint,
          ms: Math.round(event.durationMs),
          kind: event.kind,
          attempts: event.attempts,
        },
        'request',
      );
    }
  }

  async #listen(): Promise<void> {
    const c = this.#config;
    const limits = {
      maxHeaderSize: c.maxHeaderBytes,
      headersTimeoutMs: c.requestHeadersTimeoutMs,
    };
    // The port https redirects name when asked to (use-port-in-redirects): the configured one.
    const httpsPort = c.https !== undefined && c.https.port > 0 ? c.https.port : 443;
    if (c.http) {
      const deps = this.#proxyDeps('http', httpsPort);
      this.#listeners.push(
        await startHttpListener({
          host: c.http.host,
          port: c.http.port,
          handler: createProxyHandler(deps),
          upgrade: createUpgradeHandler(deps),
          limits,
          reusePort: this.#role.reusePort,
        }),
      );
    }
    if (c.https && this.#tls) {
      const deps = this.#proxyDeps('https', httpsPort);
      this.#listeners.push(
        await startHttpsListener({
          host: c.https.host,
          port: c.https.port,
          handler: createProxyHandler(deps),
          upgrade: createUpgradeHandler(deps),
          limits,
          reusePort: this.#role.reusePort,
          tlsOptions: this.#tls.serverOptions(),
        }),
      );
    }
  }
}
