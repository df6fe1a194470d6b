/**
 * The dashboard's state in standalone mode: everything lives in this process, so the pools come
 * from the manifests, the table from the in-memory route source, health from the local checker,
 * and the "events" are what standalone prints as problems and health changes. The one edge node
 * is this process.
 */
import {
  addressViews,
  backendViews,
  type DashboardSource,
  type DashboardState,
  type EventView,
  healthSummary,
  type IPAddressPool,
  nodeViews,
  routeViews,
} from '@pier/controller';
import type { LocalHealthChecker } from '@pier/dataplane';
import type { RouteTable } from '@pier/shared';
import type { IngressAddress } from './manifest-compiler.ts';

export interface StandaloneDashboardSourceOptions {
  node: string;
  startedAt: number;
  table: () => RouteTable | undefined;
  /** When the current table was published, ms since the epoch. */
  revisionSince: () => number;
  pools: () => readonly IPAddressPool[];
  addresses: () => readonly IngressAddress[];
  health: () => LocalHealthChecker | undefined;
  events: () => readonly EventView[];
}

export class StandaloneDashboardSource implements DashboardSource {
  readonly #o: StandaloneDashboardSourceOptions;

  constructor(options: StandaloneDashboardSourceOptions) {
    this.#o = options;
  }

  async read(): Promise<DashboardState> {
    const now = Date.now();
    const table = this.#o.table();
    const owners = this.#o
      .addresses()
      .filter((a): a is Extract<IngressAddress, { addresses: string[] }> => 'addresses' in a)
      .map((a) => ({ owner: `Ingress ${a.ingress}`, addresses: a.addresses }));
    const { pools, addresses } = addressViews(this.#o.pools(), owners);
    const view = this.#o.health()?.view(now) ?? { health: new Map(), ejections: [] };
    const node = this.#o.node;
    const backends = table ? backendViews(table, view.health, view.ejections, [node], now) : [];
    const report = table && {
      revision: table.revision,
      revisionSince: this.#o.revisionSince(),
      startedAt: this.#o.startedAt,
    };
    return {
      mode: 'standalone',
      at: now,
      store: 'memory',
      revision: table?.revision,
      pools,
      addresses,
      nodes: nodeViews(new Map([[node, report]]), table?.revision, addresses),
      health: healthSummary(backends),
      routes: table ? routeViews(table, now) : [],
      backends,
      events: [...this.#o.events()].sort((a, b) => b.at - a.at),
    };
  }
}
