/**
 * The dataplane's Prometheus metrics. Names are public API (docs/dataplane.md).
 * With several workers the primary sums counters over them; gauges that every
 * worker holds alike say how to combine (`min`: every worker has it).
 */
import { createRegistry } from '@pier/shared';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RequestMetrics } from './proxy/request-metrics.ts';

export interface DataplaneMetrics {
  readonly registry: Registry;
  /** Requests by host, status and backend, and time to response headers by backend. */
  readonly requests: RequestMetrics;
  readonly upstreamErrors: Counter<'backend' | 'kind'>;
  /** Requests refused by a rate limit, by zone (the Ingress) and limit. */
  readonly rateLimited: Counter<'zone' | 'limit'>;
  /**
   * Counts one refusal for `rateLimited`, in a plain map handed to the counter when scraped (a
   * flood of refusals should not pay prom-client's label hashing each).
   */
  countRateLimited: (zone: string, limit: string) => void;
  readonly endpointHealthy: Gauge<'backend' | 'endpoint'>;
  /** Counted when scraped, from what {@link DataplaneMetrics.countEjected} returns. */
  readonly endpointsEjected: Gauge<'backend'>;
  /**
   * Where `endpointsEjected` is read from: the backends with endpoints passively ejected now and
   * how many each. None until the app sets it (it owns the health state).
   */
  countEjected: () => ReadonlyMap<string, number>;
  readonly routeRevision: Gauge;
  /** Event-loop time of the serving thread per route revision, by stage ({@link RouteApplyStage}). */
  readonly routeApply: Histogram<'stage'>;
  readonly tableProblems: Counter<'section'>;
  readonly redisConnected: Gauge;
  readonly probes: Counter<'result'>;
  readonly ownedProbes: Gauge;
  /** Basic-authentication checks by outcome (auth/basic-auth-gate.ts). */
  readonly basicAuthChecks: Counter<'outcome'>;
  /**
   * Responses replaced by ingress-nginx's custom errors (`Route.errors`), by the status replaced
   * and what answered instead: `backend` (the error backend) or `page` (Pier's own page).
   */
  readonly interceptedResponses: Counter<'code' | 'answer'>;
  /** External-authentication decisions by zone (the Ingress) and outcome (auth/external-auth.ts). */
  readonly externalAuthDecisions: Counter<'zone' | 'outcome'>;
  /** Look-ups of kept auth answers (`auth-cache-key`), by result. */
  readonly externalAuthCache: Counter<'result'>;
  readonly certificates: Gauge;
  readonly certificateProblems: Gauge;
  /** Server-alias names the route index answers to (ingress-nginx's `server-alias`). */
  readonly serverAliases: Gauge;
  readonly l2Held: Gauge<'address' | 'interface'>;
  readonly l2LeaseEvents: Counter<'event'>;
}

/**
 * Where a route revision costs the serving thread: `receive`, the changed entries the background
 * thread sent made into a table; `apply`, the route index, TLS contexts and balancers switched to it.
 */
export type RouteApplyStage = 'receive' | 'apply';

export function createDataplaneMetrics(): DataplaneMetrics {
  const registry = createRegistry();
  const registers = [registry];
  const refused = new Map<string, { labels: { zone: string; limit: string }; pending: number }>();
  const metrics: DataplaneMetrics = {
    registry,
    requests: new RequestMetrics(registry),
    upstreamErrors: new Counter({
      name: 'pier_dataplane_upstream_errors_total',
      help: 'Failed upstream attempts, by backend and kind (connect, reset, timeout, ...)',
      labelNames: ['backend', 'kind'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'pier_dataplane_rate_limited_total',
      help: 'Requests answered 503 by a rate limit (ingress-nginx limit-rps, limit-rpm, limit-connections), by zone (the Ingress) and limit',
      labelNames: ['zone', 'limit'],
      registers,
      collect() {
        for (const entry of refused.values()) this.inc(entry.labels, entry.pending);
        refused.clear();
      },
    }),
    countRateLimited: (zone, limit) => {
      const key = `${zone}\n${limit}`;
      const entry = refused.get(key);
      if (entry === undefined) refused.set(key, { labels: { zone, limit }, pending: 1 });
      else entry.pending++;
    },
    endpointHealthy: new Gauge({
      name: 'pier_dataplane_endpoint_healthy',
      help: '0 while active health checks find an endpoint unhealthy, 1 once healthy (ejections: pier_dataplane_endpoints_ejected)',
      labelNames: ['backend', 'endpoint'],
      aggregator: 'min',
      registers,
    }),
    endpointsEjected: new Gauge({
      name: 'pier_dataplane_endpoints_ejected',
      help: 'Endpoints of a backend passively ejected now (consecutive failed requests), here or by another node',
      labelNames: ['backend'],
      // Every worker learns every ejection (through Redis).
      aggregator: 'max',
      registers,
      collect() {
        this.reset();
        for (const [backend, count] of metrics.countEjected()) this.set({ backend }, count);
      },
    }),
    countEjected: () => new Map(),
    routeRevision: new Gauge({
      name: 'pier_dataplane_route_revision',
      help: 'Revision of the route table being served',
      aggregator: 'min',
      registers,
    }),
    routeApply: new Histogram({
      name: 'pier_dataplane_route_apply_seconds',
      help: "Event-loop time of the serving thread per route revision, by stage (receive, apply): the sum of the work's slices, not the time between them",
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    tableProblems: new Counter({
      name: 'pier_dataplane_table_problems_total',
      help: 'Route-table entries skipped because they failed validation',
      labelNames: ['section'],
      registers,
    }),
    redisConnected: new Gauge({
      name: 'pier_dataplane_redis_connected',
      help: '1 while the route-table connection to Redis is up',
      aggregator: 'min',
      registers,
    }),
    probes: new Counter({
      name: 'pier_dataplane_probes_total',
      help: 'Active health probes sent by this node, by result',
      labelNames: ['result'],
      registers,
    }),
    ownedProbes: new Gauge({
      name: 'pier_dataplane_owned_probe_targets',
      help: 'Probe targets this node owns (probe work is spread over the live nodes)',
      registers,
    }),
    basicAuthChecks: new Counter({
      name: 'pier_dataplane_basic_auth_checks_total',
      help: 'Requests to routes with basic authentication, by outcome: cached, accepted, rejected (401), unavailable or busy (503)',
      labelNames: ['outcome'],
      registers,
    }),
    interceptedResponses: new Counter({
      name: 'pier_dataplane_intercepted_responses_total',
      help: 'Responses replaced by custom-http-errors, by the status replaced and what answered instead (backend: the error backend; page: Pier)',
      labelNames: ['code', 'answer'],
      registers,
    }),
    externalAuthDecisions: new Counter({
      name: 'pier_dataplane_external_auth_decisions_total',
      help: 'Requests to routes with external authentication (auth-url), by zone (the Ingress) and outcome: allowed, denied (401, 403, sign-in redirect) or error (500, 503)',
      labelNames: ['zone', 'outcome'],
      registers,
    }),
    externalAuthCache: new Counter({
      name: 'pier_dataplane_external_auth_cache_total',
      help: 'Look-ups of kept auth answers on routes with auth-cache-key, by result: hit (decided without asking the auth service) or miss',
      labelNames: ['result'],
      registers,
    }),
    certificates: new Gauge({
      name: 'pier_dataplane_certificates',
      help: 'TLS certificates loaded',
      aggregator: 'max',
      registers,
    }),
    certificateProblems: new Gauge({
      name: 'pier_dataplane_certificate_problems',
      help: 'Certificates in the table that could not be loaded (their hosts get the default)',
      aggregator: 'max',
      registers,
    }),
    serverAliases: new Gauge({
      name: 'pier_dataplane_server_aliases',
      help: 'Server-alias names the route table gives virtual hosts, per address, that requests and SNI are answered for',
      aggregator: 'max',
      registers,
    }),
    l2Held: new Gauge({
      name: 'pier_l2_address_held',
      help: '1 while this node holds the L2 lease of an address and has it on the interface',
      labelNames: ['address', 'interface'],
      aggregator: 'max',
      registers,
    }),
    l2LeaseEvents: new Counter({
      name: 'pier_l2_lease_events_total',
      help: 'L2 leases acquired, lost (taken while unreachable) and released by this node',
      labelNames: ['event'],
      registers,
    }),
  };
  return metrics;
}
