/**
 * The controller's Prometheus metrics. Names are public API (docs/operations.md, Metrics).
 */
import { createRegistry } from '@pier/shared';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly poolSize: Gauge<'pool'>;
  readonly poolAssigned: Gauge<'pool'>;
  readonly poolAvailable: Gauge<'pool'>;
  readonly allocationFailures: Counter<'reason'>;
  readonly reconcileDuration: Histogram<'controller' | 'result'>;
  readonly queueDepth: Gauge<'queue'>;
  readonly isLeader: Gauge;
  readonly watchRestarts: Counter<'resource'>;
  readonly apiWrites: Counter<'kind' | 'result'>;
  readonly compileDuration: Histogram;
  readonly compileProblems: Counter<'reason'>;
  readonly annotationsIgnored: Gauge<'annotation'>;
  readonly routeRevision: Gauge;
  readonly publishDuration: Histogram;
  readonly publishBytes: Histogram;
  readonly publishFailures: Counter;
  readonly certificateExpirySeconds: Gauge<'namespace' | 'secret'>;
  readonly redisDriftRepairs: Counter;
  readonly redisConnected: Gauge;
  readonly l2HolderChanges: Counter<'pool'>;
  readonly l2AddressesUnheld: Gauge<'pool'>;
}

export function createControllerMetrics(): ControllerMetrics {
  const registry = createRegistry();
  const registers = [registry];
  return {
    registry,
    poolSize: new Gauge({
      name: 'pier_pool_addresses',
      help: 'Addresses an IPAddressPool can give out (approximate above 2^53)',
      labelNames: ['pool'],
      registers,
    }),
    poolAssigned: new Gauge({
      name: 'pier_pool_addresses_assigned',
      help: 'Addresses of the pool in use',
      labelNames: ['pool'],
      registers,
    }),
    poolAvailable: new Gauge({
      name: 'pier_pool_addresses_available',
      help: 'Addresses of the pool still free',
      labelNames: ['pool'],
      registers,
    }),
    allocationFailures: new Counter({
      name: 'pier_allocation_failures_total',
      help: 'Address allocations that failed, by error code',
      labelNames: ['reason'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'pier_reconcile_duration_seconds',
      help: 'Time to reconcile one key',
      labelNames: ['controller', 'result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'pier_workqueue_depth',
      help: 'Keys waiting in a work queue',
      labelNames: ['queue'],
      registers,
    }),
    isLeader: new Gauge({
      name: 'pier_controller_leader',
      help: '1 while this replica holds the leader Lease',
      registers,
    }),
    watchRestarts: new Counter({
      name: 'pier_watch_restarts_total',
      help: 'Watches restarted after an error, by resource',
      labelNames: ['resource'],
      registers,
    }),
    apiWrites: new Counter({
      name: 'pier_api_writes_total',
      help: 'Writes to the Kubernetes API, by kind and result',
      labelNames: ['kind', 'result'],
      registers,
    }),
    compileDuration: new Histogram({
      name: 'pier_route_compile_duration_seconds',
      help: 'Time to compile the route table from the cluster objects',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    compileProblems: new Counter({
      name: 'pier_route_problems_total',
      help: 'Problems found while compiling routes (each reported once), by Event reason',
      labelNames: ['reason'],
      registers,
    }),
    annotationsIgnored: new Gauge({
      name: 'pier_ingress_annotations_ignored',
      help: 'Served Ingresses that carry an ingress-nginx annotation Pier does not honour, by annotation',
      labelNames: ['annotation'],
      registers,
    }),
    routeRevision: new Gauge({
      name: 'pier_route_revision',
      help: 'Revision of the route table last published to Redis',
      registers,
    }),
    publishDuration: new Histogram({
      name: 'pier_route_publish_duration_seconds',
      help: 'Time of one atomic publication to Redis',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    publishBytes: new Histogram({
      name: 'pier_route_publish_bytes',
      help: 'Bytes one publication wrote to Redis: the changed pieces with their keys, and the change-log entry',
      buckets: [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216],
      registers,
    }),
    publishFailures: new Counter({
      name: 'pier_route_publish_failures_total',
      help: 'Publication attempts that failed (Redis unreachable, conflicts); retried with back-off',
      registers,
    }),
    certificateExpirySeconds: new Gauge({
      name: 'pier_certificate_expiry_seconds',
      help: 'Seconds until a served certificate expires (negative once expired)',
      labelNames: ['namespace', 'secret'],
      registers,
    }),
    redisDriftRepairs: new Counter({
      name: 'pier_redis_drift_repairs_total',
      help: 'Times the periodic check found Redis not matching the compiled table and republished',
      registers,
    }),
    redisConnected: new Gauge({
      name: 'pier_controller_redis_connected',
      help: '1 while the connection to Redis is up (every replica, leader or not)',
      registers,
    }),
    l2HolderChanges: new Counter({
      name: 'pier_l2_holder_changes_total',
      help: 'Times an L2 address was taken over by a node other than the one that last held it (leader)',
      labelNames: ['pool'],
      registers,
    }),
    l2AddressesUnheld: new Gauge({
      name: 'pier_l2_addresses_unheld',
      help: 'Assigned addresses of an L2 pool that no node holds (announces) now (leader)',
      labelNames: ['pool'],
      registers,
    }),
  };
}
