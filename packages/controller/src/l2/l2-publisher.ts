/**
 * The controller leader's side of L2 mode: writes what to announce (`l2AnnouncementsKey`) when it
 * differs from what Redis holds (so a Redis that restarted empty gets it again within a tick),
 * and reads the leases of the announced addresses so that the pools' `status.holders` names the
 * node announcing each address. It also counts, for the metrics, the addresses nobody holds and
 * the takeovers by another node; a replica that stops leading reports neither.
 */
import {
  encodeL2Announcements,
  type L2Announcements,
  l2AnnouncementsKey,
  type PierLogger,
  parseL2Lease,
  vipLeaseKey,
} from '@pier/shared';
import type { Redis } from 'ioredis';
import type { ControllerMetrics } from '../controller-metrics.ts';
import { holderMoves, holdersByPool, type PoolHolder, unheldByPool } from './l2-plan.ts';

/** Options of {@link L2Publisher}. */
export interface L2PublisherOptions {
  redis: Redis;
  /** The current announcements and the names of the pools with `spec.l2`. */
  compile: () => { announcements: L2Announcements; l2Pools: readonly string[] };
  /** Called when the holders of some pool changed. */
  onHolders: () => void;
  logger: PierLogger;
  metrics: Pick<ControllerMetrics, 'l2HolderChanges' | 'l2AddressesUnheld'>;
  /** Period of the check, ms (default 1000). */
  intervalMs?: number;
}

/** Keeps the announcements in Redis and the holders in memory, while leading. */
export class L2Publisher {
  readonly #o: L2PublisherOptions;
  #holders = new Map<string, PoolHolder[]>();
  #holdersText = '';
  /** The node that last held each announced address, to tell a takeover from a first holder. */
  #lastHolders = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #busy: Promise<void> | undefined;
  #again = false;

  constructor(options: L2PublisherOptions) {
    this.#o = options;
  }

  /** The holders of a pool's addresses; undefined for a pool without `spec.l2`. */
  holdersOf(pool: string): PoolHolder[] | undefined {
    return this.#holders.get(pool);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.nudge();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#lastHolders = new Map();
    this.#o.metrics.l2AddressesUnheld.reset();
  }

  /** Checks now (pools, nodes or allocations changed); calls during a check run one more. */
  nudge(): void {
    if (!this.#running) return;
    if (this.#busy !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#busy = this.#sync()
      .catch((err: unknown) => this.#o.logger.warn({ err: String(err) }, 'L2 publication failed'))
      .finally(() => {
        this.#busy = undefined;
        if (!this.#running) return;
        if (this.#again) {
          this.#again = false;
          this.nudge();
          return;
        }
        this.#timer = setTimeout(() => this.nudge(), this.#o.intervalMs ?? 1_000);
        this.#timer.unref();
      });
  }

  async #sync(): Promise<void> {
    const { announcements, l2Pools } = this.#o.compile();
    const text = encodeL2Announcements(announcements);
    const redis = this.#o.redis;
    if ((await redis.get(l2AnnouncementsKey())) !== text) {
      await redis.set(l2AnnouncementsKey(), text);
      this.#o.logger.info(
        { addresses: announcements.addresses.length },
        'L2 announcements published',
      );
    }
    const addresses = announcements.addresses.map((a) => a.address);
    const values = addresses.length > 0 ? await redis.mget(addresses.map(vipLeaseKey)) : [];
    const leases = new Map(addresses.map((a, i) => [a, parseL2Lease(values[i])]));
    const holders = holdersByPool(announcements, leases, l2Pools);
    if (this.#running) this.#count(announcements, holders, l2Pools);
    const holdersText = JSON.stringify([...holders].sort(([a], [b]) => a.localeCompare(b)));
    if (holdersText === this.#holdersText) return;
    this.#holders = holders;
    this.#holdersText = holdersText;
    this.#o.onHolders();
  }

  #count(
    announcements: L2Announcements,
    holders: ReadonlyMap<string, readonly PoolHolder[]>,
    l2Pools: readonly string[],
  ): void {
    const { l2AddressesUnheld, l2HolderChanges } = this.#o.metrics;
    // Reset first: a pool that lost `spec.l2` (or was deleted) leaves the metric.
    l2AddressesUnheld.reset();
    for (const [pool, count] of unheldByPool(announcements, holders, l2Pools)) {
      l2AddressesUnheld.set({ pool }, count);
    }
    const { moves, lastHolders } = holderMoves(this.#lastHolders, announcements, holders);
    this.#lastHolders = lastHolders;
    for (const [pool, count] of moves) l2HolderChanges.inc({ pool }, count);
  }
}
