/**
 * The dashboard's state in cluster mode, read by any controller replica (leader or follower):
 * pools and addresses from the watched caches, everything the fleet shares from Redis (the
 * published table, the nodes' heartbeats and reports, health, ejections) and Pier's recent
 * Events from the API. Reads only; the Redis connection is its own, so a slow read never delays
 * a publication.
 */
import type { CoreV1Api, CoreV1Event, V1Ingress, V1Service } from '@kubernetes/client-node';
import {
  dataplaneReportKey,
  ejectionPattern,
  healthKey,
  nodeHeartbeatPattern,
  nodeOfHeartbeatKey,
  parseDataplaneReport,
  parseEjectionKey,
  parseHealthState,
  ROUTE_SECTIONS,
  type RouteTable,
  RouteTableState,
  routesRevisionKey,
  routesSectionKey,
  type SharedHealthState,
} from '@pier/shared';
import type { Redis } from 'ioredis';
import type { IPAddressPool } from '../addresses/ip-address-pool.ts';
import { EVENT_SOURCE } from '../kube/kube-writer.ts';
import { type AddressOwner, addressViews } from './address-views.ts';
import type { DashboardSource } from './dashboard-server.ts';
import {
  backendViews,
  type DashboardState,
  type Ejection,
  type EventView,
  healthSummary,
  nodeViews,
  routeViews,
} from './dashboard-state.ts';

export interface ClusterDashboardSourceOptions {
  redis: Redis;
  core: CoreV1Api;
  pools: () => readonly IPAddressPool[];
  ingresses: () => readonly V1Ingress[];
  services: () => readonly V1Service[];
  identity: string;
  isLeader: () => boolean;
  /** Events are listed again at most this often, ms (default 5000). */
  eventsEveryMs?: number;
  /** Newest Events shown (default 100). */
  maxEvents?: number;
}

const SCAN_COUNT = 1000;

export class ClusterDashboardSource implements DashboardSource {
  readonly #o: ClusterDashboardSourceOptions;
  /** The table of the last revision read, so a table is read and checked once per revision. */
  #table: { revision: number; table: RouteTable } | undefined;
  #events: { at: number; views: EventView[] } | undefined;

  constructor(options: ClusterDashboardSourceOptions) {
    this.#o = options;
  }

  async read(): Promise<DashboardState> {
    const now = Date.now();
    const owners: AddressOwner[] = [
      ...this.#o.ingresses().map((i) => owner('Ingress', i)),
      ...this.#o.services().map((s) => owner('Service', s)),
    ].filter((o) => o.addresses.length > 0);
    const { pools, addresses } = addressViews(this.#o.pools(), owners);
    const [shared, events] = await Promise.all([
      this.#readRedis(now).catch(() => undefined),
      this.#readEvents(now),
    ]);
    const backends = shared
      ? backendViews(shared.table, shared.health, shared.ejections, shared.live, now)
      : [];
    return {
      mode: 'cluster',
      at: now,
      controller: { identity: this.#o.identity, leader: this.#o.isLeader() },
      store: shared ? 'connected' : 'unreachable',
      revision: shared?.table.revision,
      pools,
      addresses,
      nodes: shared ? nodeViews(shared.reports, shared.table.revision, addresses) : [],
      health: healthSummary(backends),
      routes: shared ? routeViews(shared.table, now) : [],
      backends,
      events,
    };
  }

  async #readRedis(now: number) {
    const redis = this.#o.redis;
    const revision = Number((await redis.get(routesRevisionKey())) ?? 0);
    if (this.#table?.revision !== revision) {
      // The revision and every piece in one MULTI: a table of one revision, never half of two.
      const multi = redis.multi().get(routesRevisionKey());
      for (const section of ROUTE_SECTIONS) multi.hgetall(routesSectionKey(section));
      const replies = (await multi.exec()) ?? [];
      const pieces = Object.fromEntries(
        ROUTE_SECTIONS.map((section, i) => [
          section,
          Object.entries((replies[1 + i]?.[1] ?? {}) as Record<string, string>),
        ]),
      );
      const read = Number((replies[0]?.[1] as string | null) ?? 0);
      const table = RouteTableState.fromPieces(read, pieces).state.toTable();
      this.#table = { revision: table.revision, table };
    }
    const table = this.#table.table;
    const live = (await scan(redis, nodeHeartbeatPattern()))
      .map(nodeOfHeartbeatKey)
      .filter((n): n is string => n !== undefined)
      .sort();
    const backendIds = Object.keys(table.backends);
    const ejectionKeys = await scan(redis, ejectionPattern());
    const pipeline = redis.pipeline();
    for (const node of live) pipeline.get(dataplaneReportKey(node));
    for (const id of backendIds) pipeline.hgetall(healthKey(id));
    for (const key of ejectionKeys) pipeline.get(key).pttl(key);
    const results = (await pipeline.exec()) ?? [];
    const value = (i: number): unknown => results[i]?.[1];
    let i = 0;
    const reports = new Map<string, ReturnType<typeof parseDataplaneReport>>();
    for (const node of live) reports.set(node, parseDataplaneReport(value(i++) as string | null));
    const health = new Map<string, Map<string, SharedHealthState>>();
    for (const id of backendIds) {
      const fields = (value(i++) ?? {}) as Record<string, string>;
      const states = new Map<string, SharedHealthState>();
      for (const [endpoint, json] of Object.entries(fields)) {
        const state = parseHealthState(json);
        if (state) states.set(endpoint, state);
      }
      health.set(id, states);
    }
    const ejections: Ejection[] = [];
    for (const key of ejectionKeys) {
      const by = value(i++);
      const ttl = Number(value(i++));
      const parsed = parseEjectionKey(key);
      if (parsed && typeof by === 'string' && ttl > 0) {
        ejections.push({ ...parsed, by, until: now + ttl });
      }
    }
    return { table, live, reports, health, ejections };
  }

  /** Pier's Events, newest first; the last list is kept when listing fails. */
  async #readEvents(now: number): Promise<EventView[]> {
    const every = this.#o.eventsEveryMs ?? 5_000;
    if (this.#events !== undefined && now - this.#events.at < every) return this.#events.views;
    try {
      const list = await this.#o.core.listEventForAllNamespaces({
        fieldSelector: `source=${EVENT_SOURCE}`,
        limit: 1000,
      });
      const views = list.items
        .map(eventView)
        .sort((a, b) => b.at - a.at)
        .slice(0, this.#o.maxEvents ?? 100);
      this.#events = { at: now, views };
    } catch {
      this.#events = { at: now, views: this.#events?.views ?? [] };
    }
    return this.#events.views;
  }
}

function owner(kind: string, object: V1Ingress | V1Service): AddressOwner {
  const addresses = (object.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip)
    .filter((ip): ip is string => typeof ip === 'string');
  return { owner: `${kind} ${object.metadata?.namespace}/${object.metadata?.name}`, addresses };
}

function eventView(e: CoreV1Event): EventView {
  const when = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
  const o = e.involvedObject;
  return {
    at: when ? new Date(when).getTime() : 0,
    type: e.type ?? '',
    reason: e.reason ?? '',
    object: `${o.kind ?? ''} ${o.namespace ? `${o.namespace}/` : ''}${o.name ?? ''}`,
    message: e.message ?? '',
    count: e.series?.count ?? e.count ?? 1,
  };
}

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}
