/**
 * What the dashboard shows, as plain data: built by a source (the cluster's from the API caches
 * and Redis, standalone's from its own memory) and rendered by `dashboard-pages.ts`. The
 * builders here are pure: the route table, the health states and the live nodes go in, the
 * views come out, so they are tested without I/O. Nothing secret is in a view: a certificate is
 * shown by its Secret's name and its expiry, never its key.
 */
import { X509Certificate } from 'node:crypto';
import {
  endpointField,
  ownerOf,
  probeKey,
  type RouteTable,
  type SharedHealthState,
} from '@pier/shared';

/** The whole page state at one moment. */
export interface DashboardState {
  /** `cluster` (the controller, Redis) or `standalone` (one process, no Redis). */
  mode: 'cluster' | 'standalone';
  /** When the state was read, ms since the epoch. */
  at: number;
  /** The process serving the page: its identity and whether it leads. */
  controller?: { identity: string; leader: boolean };
  /** The state store: Redis (`connected`, `unreachable`) or the process's memory (`memory`). */
  store: 'connected' | 'unreachable' | 'memory';
  /** The newest published route-table revision, if known. */
  revision: number | undefined;
  pools: PoolView[];
  addresses: AddressView[];
  nodes: NodeView[];
  health: HealthSummary;
  routes: RouteView[];
  backends: BackendView[];
  events: EventView[];
}

export interface PoolView {
  name: string;
  /** Addresses the pool can give out (text: an IPv6 pool may hold more than 2^53). */
  size: string;
  used: number;
  free: number;
  l2: boolean;
  /** Conditions that say something is wrong (`Accepted=False: reason`, `Overlapping=True`). */
  problems: string[];
}

export interface AddressView {
  address: string;
  pool: string;
  /** Who holds the address: `Ingress ns/name`, `Service ns/name`. */
  owners: string[];
  /** L2 pools: the edge node announcing it now, or undefined when none does. */
  holder: string | undefined;
  l2: boolean;
}

export interface NodeView {
  name: string;
  /** The route-table revision the node serves, when it reported one. */
  revision: number | undefined;
  /** Revisions behind the newest published one (0: up to date). */
  lag: number | undefined;
  /** Since when it serves that revision, ms since the epoch. */
  revisionSince: number | undefined;
  startedAt: number | undefined;
  /** Addresses it announces (L2). */
  holds: string[];
}

export interface HealthSummary {
  backends: number;
  endpoints: number;
  healthy: number;
  unhealthy: number;
  unknown: number;
  ejected: number;
  /** Backends with endpoints but none usable (every request answered 503). */
  backendsDown: number;
}

export interface RouteView {
  address: string;
  /** The host as served ('' is any host). */
  host: string;
  path: string;
  /** `Exact`, `Prefix`, or `default` for an Ingress defaultBackend. */
  pathType: string;
  backend: string;
  /** The object that asked for it, `ns/name`. */
  source: string;
  tls: TlsView | undefined;
}

export interface TlsView {
  /** The Secret, `ns/name`. */
  secret: string;
  /** ISO time the certificate expires, when it could be read. */
  notAfter: string | undefined;
  /** Whole days left (negative once expired). */
  daysLeft: number | undefined;
}

export interface BackendView {
  id: string;
  service: string;
  port: string;
  /** The HealthCheckPolicy in force (`ns/name`), or undefined for the cluster default. */
  policy: string | undefined;
  probe: string;
  algorithm: string;
  endpoints: EndpointView[];
}

export interface EndpointView {
  /** `address:port` (IPv6 in brackets), the id used in Redis and metrics. */
  id: string;
  ready: boolean;
  terminating: boolean;
  pod: string | undefined;
  node: string | undefined;
  status: 'healthy' | 'unhealthy' | 'unknown';
  /** When the status last changed, ms since the epoch. */
  since: number | undefined;
  failures: number;
  successes: number;
  /** The node whose probe decided the status. */
  decidedBy: string | undefined;
  /** The live node that owns the probe now. */
  prober: string | undefined;
  ejection: EjectionView | undefined;
}

/** A passive ejection: the endpoint gets no new requests until it ends. */
export interface EjectionView {
  by: string;
  /** ms since the epoch. */
  until: number;
  reason: string;
}

export interface EventView {
  /** ms since the epoch (the last time it was seen). */
  at: number;
  type: string;
  reason: string;
  /** `Kind ns/name`. */
  object: string;
  message: string;
  count: number;
}

/** A passive ejection as read from Redis. */
export interface Ejection {
  backendId: string;
  endpoint: string;
  by: string;
  /** ms since the epoch. */
  until: number;
}

const DAY_MS = 86_400_000;

/** Virtual hosts, their routes and default backends, sorted by host, address and path. */
export function routeViews(table: Omit<RouteTable, 'revision'>, now: number): RouteView[] {
  const expiry = new Map<string, TlsView>();
  const tlsOf = (certificateId: string): TlsView | undefined => {
    const certificate = table.certificates[certificateId];
    if (certificate === undefined) return undefined;
    let view = expiry.get(certificateId);
    if (view === undefined) {
      const notAfter = certificate.notAfter ?? readNotAfter(certificate.certificatePem);
      const ms = notAfter === undefined ? Number.NaN : Date.parse(notAfter);
      view = {
        secret: `${certificate.secret.namespace}/${certificate.secret.name}`,
        notAfter: Number.isNaN(ms) ? undefined : new Date(ms).toISOString(),
        daysLeft: Number.isNaN(ms) ? undefined : Math.floor((ms - now) / DAY_MS),
      };
      expiry.set(certificateId, view);
    }
    return view;
  };
  const views: RouteView[] = [];
  for (const vhost of Object.values(table.virtualHosts)) {
    const tls = vhost.tls ? tlsOf(vhost.tls.certificate) : undefined;
    for (const route of vhost.routes) {
      views.push({
        address: vhost.address,
        host: vhost.host,
        path: route.path,
        pathType: route.pathType,
        backend: route.backend,
        source: `${route.source.namespace}/${route.source.name}`,
        tls,
      });
    }
    if (vhost.defaultBackend !== undefined) {
      views.push({
        address: vhost.address,
        host: vhost.host,
        path: '',
        pathType: 'default',
        backend: vhost.defaultBackend,
        source: '',
        tls,
      });
    }
  }
  return views.sort(
    (a, b) =>
      compare(a.host, b.host) ||
      compare(a.address, b.address) ||
      compare(a.path, b.path) ||
      compare(a.pathType, b.pathType),
  );
}

/**
 * Every backend of the table with its endpoints' shared health, who probes each (the same
 * rendezvous choice the nodes make over the live nodes) and running ejections.
 */
export function backendViews(
  table: Omit<RouteTable, 'revision'>,
  health: ReadonlyMap<string, ReadonlyMap<string, SharedHealthState>>,
  ejections: readonly Ejection[],
  liveNodes: readonly string[],
  now: number,
): BackendView[] {
  const ejected = new Map<string, Ejection>();
  for (const e of ejections) if (e.until > now) ejected.set(`${e.backendId}|${e.endpoint}`, e);
  const views: BackendView[] = [];
  for (const backend of Object.values(table.backends)) {
    const states = health.get(backend.id);
    const hc = backend.healthCheck;
    const endpoints = backend.endpoints.map((ep): EndpointView => {
      const id = endpointField(ep.address, ep.port);
      const state = states?.get(id);
      const ejection = ejected.get(`${backend.id}|${id}`);
      return {
        id,
        ready: ep.ready,
        terminating: ep.terminating,
        pod: ep.targetRef ? `${ep.targetRef.namespace}/${ep.targetRef.name}` : undefined,
        node: ep.nodeName,
        status: state?.status ?? 'unknown',
        since: state?.since,
        failures: state?.failures ?? 0,
        successes: state?.successes ?? 0,
        decidedBy: state?.by,
        prober: ep.ready ? ownerOf(probeKey(ep, hc), liveNodes) : undefined,
        ejection: ejection && {
          by: ejection.by,
          until: ejection.until,
          reason: `requests kept failing on ${ejection.by} (passive outlier detection)`,
        },
      };
    });
    views.push({
      id: backend.id,
      service: `${backend.service.namespace}/${backend.service.name}`,
      port: String(backend.servicePort),
      policy: hc.policy ? `${hc.policy.namespace}/${hc.policy.name}` : undefined,
      probe: `GET ${hc.http.path} every ${hc.intervalMs / 1000} s${hc.port ? ` on port ${hc.port}` : ''}`,
      algorithm: backend.balancing.algorithm + (backend.balancing.affinity ? ' + cookie' : ''),
      endpoints: endpoints.sort((a, b) => compare(a.id, b.id)),
    });
  }
  return views.sort((a, b) => compare(a.id, b.id));
}

/** Counts over the backend views. An endpoint counts as ejected instead of its status. */
export function healthSummary(backends: readonly BackendView[]): HealthSummary {
  const summary: HealthSummary = {
    backends: backends.length,
    endpoints: 0,
    healthy: 0,
    unhealthy: 0,
    unknown: 0,
    ejected: 0,
    backendsDown: 0,
  };
  for (const backend of backends) {
    let usable = 0;
    for (const ep of backend.endpoints) {
      summary.endpoints++;
      if (ep.ejection) summary.ejected++;
      else summary[ep.status]++;
      if (ep.ready && !ep.ejection && ep.status !== 'unhealthy') usable++;
    }
    if (backend.endpoints.length > 0 && usable === 0) summary.backendsDown++;
  }
  return summary;
}

/** The nodes' views: lag against the newest revision, and the addresses each holds. */
export function nodeViews(
  nodes: ReadonlyMap<
    string,
    { revision: number; revisionSince: number; startedAt: number } | undefined
  >,
  newest: number | undefined,
  addresses: readonly AddressView[],
): NodeView[] {
  return [...nodes]
    .map(
      ([name, report]): NodeView => ({
        name,
        revision: report?.revision,
        lag:
          report === undefined || newest === undefined
            ? undefined
            : Math.max(0, newest - report.revision),
        revisionSince: report?.revisionSince,
        startedAt: report?.startedAt,
        holds: addresses.filter((a) => a.holder === name).map((a) => a.address),
      }),
    )
    .sort((a, b) => compare(a.name, b.name));
}

function readNotAfter(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).validTo;
  } catch {
    return undefined;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
