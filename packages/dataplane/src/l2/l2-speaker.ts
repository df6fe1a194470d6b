/**
 * L2 mode on one edge node: every `renewIntervalMs` it reads what to announce (the controller's
 * `l2AnnouncementsKey`) and the live speakers (`L2Presence`), both at most once a second, and
 * the leases, asks
 * `L2Election` what to do, and does it with the `L2LeaseStore` and the `L2Announcer`.
 *
 * Invariants:
 * - **Fencing.** Every act on the host (adding the address, each announcement) first checks that
 *   this process still holds the lease with the epoch it acquired, and (for announcements) that
 *   Redis confirmed it within one TTL; a holder that lost the lease does nothing more with it.
 * - **Remove first.** Giving an address up (lost, released, hand-off, drain) takes it off the
 *   interface before the lease is released, so two nodes never both answer because of Pier.
 * - **Redis unreachable.** Renewals fail, not lose: held addresses stay (nobody else can take
 *   them through Redis meanwhile) and nothing is acquired. When Redis answers again, a renewal
 *   that finds another value means the lease was lost: the address is removed (docs/l2.md).
 * - **Start.** Addresses of the announcements found on this node's interfaces that this process
 *   does not hold (left by a dataplane that was killed) are removed once the announcements are
 *   first read.
 */
import { randomUUID } from 'node:crypto';
import {
  decodeL2Announcements,
  type L2Announcement,
  type L2Lease,
  l2AnnouncementsKey,
  type PierLogger,
} from '@pier/shared';
import type { Redis } from 'ioredis';
import type { L2Announcer } from './l2-announcer.ts';
import { type L2Candidate, L2Election, type L2Step } from './l2-election.ts';
import { L2LeaseStore } from './l2-lease-store.ts';
import { L2Presence } from './l2-presence.ts';
import { assertL2Timing, type L2Timing } from './l2-timing.ts';

/** Options of {@link L2Speaker}. */
export interface L2SpeakerOptions extends L2Timing {
  /** A connection of its own, failing fast while Redis is down. */
  redis: Redis;
  node: string;
  announcer: L2Announcer;
  logger: PierLogger;
  /** Called when this node starts (true) or stops (false) holding an address. */
  onHeld?: (address: string, iface: string, held: boolean) => void;
  /** Counts lease events: acquired, lost, released. */
  onLeaseEvent?: (event: 'acquired' | 'lost' | 'released') => void;
  now?: () => number;
}

/** Gratuitous ARP / unsolicited NA rounds after taking an address, ms after the take-over. */
const ANNOUNCE_AT_MS = [0, 250, 1_000];
/** How long an address this node failed to add is left to the other nodes. */
const ADD_FAILURE_BACKOFF_MS = 10_000;
/** Lifetime of the presence key: a killed speaker drops out of the others' lists within it. */
const PRESENCE_TTL_MS = 3_000;
/** How often the announcements and the live speakers are re-read. */
const REFRESH_MS = 1_000;

interface Holding {
  readonly interface: string;
  readonly lease: L2Lease;
  readonly acquiredAt: number;
  /** When Redis last confirmed the lease (acquired or renewed). */
  confirmedAt: number;
}

/** Runs the election loop and holds this node's addresses. */
export class L2Speaker {
  readonly #o: L2SpeakerOptions;
  readonly #leases: L2LeaseStore;
  readonly #election: L2Election;
  readonly #now: () => number;
  readonly #held = new Map<string, Holding>();
  #announcements: readonly L2Announcement[] = [];
  #announcementsText: string | undefined;
  #announcementsAt = Number.NEGATIVE_INFINITY;
  #cleaned = false;
  readonly #presence: L2Presence;
  /** Live speakers: node → its process token and since when that token has been seen. */
  #speakers = new Map<string, { token: string; since: number }>();
  #speakersAt = Number.NEGATIVE_INFINITY;
  readonly #routeInterfaces = new Map<string, string | undefined>();
  readonly #failedUntil = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #running = false;
  #redisFailing = false;
  #reached = false;
  /** Until when nothing is acquired (see {@link L2Speaker.#once}). */
  #quietUntil = 0;

  constructor(options: L2SpeakerOptions) {
    assertL2Timing({ leaseTtlMs: options.leaseTtlMs, renewIntervalMs: options.renewIntervalMs });
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const token = randomUUID();
    this.#leases = new L2LeaseStore({
      redis: options.redis,
      node: options.node,
      token,
      timeoutMs: Math.max(50, Math.floor(options.leaseTtlMs / 3)),
    });
    this.#presence = new L2Presence({
      redis: options.redis,
      node: options.node,
      token,
      ttlMs: PRESENCE_TTL_MS,
    });
    this.#election = new L2Election({
      node: options.node,
      graceMs: graceOf(options),
      handOffAfterMs: 5_000,
      handOffHoldMs: 60_000,
    });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /**
   * Drain: stops the loop, removes every held address from its interface, then releases the
   * leases so that another node takes over at once instead of after the TTL.
   */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#tick?.catch(() => undefined);
    await Promise.all(
      [...this.#held.keys()].map((address) => this.#giveUp(address, 'released', true)),
    );
    await this.#presence.leave().catch(() => undefined);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#tick = this.#once()
        .catch((err: unknown) => this.#o.logger.warn({ err: String(err) }, 'L2 tick failed'))
        .finally(() => {
          this.#tick = undefined;
          if (!this.#running) return;
          this.#schedule(this.#election.waiting ? graceOf(this.#o) : this.#o.renewIntervalMs);
        });
    }, delayMs);
    this.#timer.unref();
  }

  async #once(): Promise<void> {
    const now = this.#now();
    await this.#refresh(now);
    const candidates = await this.#candidates();
    const addresses = [...new Set([...candidates.keys(), ...this.#held.keys()])];
    let leases: Map<string, L2Lease | undefined> | undefined;
    try {
      leases = await this.#leases.read(addresses);
      this.#redisUp(now);
    } catch (err) {
      this.#redisDown(err);
    }
    // Just back from an outage: for one lease lifetime the holders re-take their leases
    // (heartbeats, and after a restart the leases themselves, may be gone) before anyone
    // takes a free-looking one.
    if (now < this.#quietUntil) leases = undefined;
    const steps = this.#election.plan({
      now,
      candidates,
      leases,
      held: new Map(
        [...this.#held].map(([a, h]) => [a, { interface: h.interface, acquiredAt: h.acquiredAt }]),
      ),
      liveSince: new Map([...this.#speakers].map(([n, s]) => [n, s.since])),
    });
    if (!this.#running) return;
    await Promise.all(steps.map((step) => this.#do(step, now)));
  }

  async #refresh(now: number): Promise<void> {
    if (now - this.#announcementsAt >= REFRESH_MS) {
      try {
        const text = await this.#o.redis.get(l2AnnouncementsKey());
        this.#announcementsAt = now;
        // No key at all (Redis restarted empty, the controller not yet republished): keep the
        // last announcements, as the route table is kept. Only a published list changes them.
        if (text !== null && text !== this.#announcementsText) {
          this.#announcementsText = text;
          const decoded = decodeL2Announcements(text);
          if (decoded.problems.length > 0) {
            this.#o.logger.warn({ problems: decoded.problems }, 'L2 announcements skipped');
          }
          this.#announcements = decoded.announcements.addresses;
          this.#routeInterfaces.clear();
        }
        if (!this.#cleaned && text !== null) {
          this.#cleaned = true;
          await this.#removeStale();
        }
      } catch (err) {
        this.#redisDown(err);
      }
    }
    if (now - this.#speakersAt >= REFRESH_MS) {
      try {
        await this.#presence.beat();
        const tokens = await this.#presence.list();
        const speakers = new Map<string, { token: string; since: number }>();
        for (const [node, token] of tokens) {
          const known = this.#speakers.get(node);
          speakers.set(node, known?.token === token ? known : { token, since: now });
        }
        this.#speakers = speakers;
        this.#speakersAt = now;
      } catch (err) {
        this.#redisDown(err);
      }
    }
  }

  /** The announced addresses this node is eligible for, with the interface each would use. */
  async #candidates(): Promise<Map<string, L2Candidate>> {
    const node = this.#o.node;
    const candidates = new Map<string, L2Candidate>();
    const linkUp = new Map<string, Promise<boolean>>();
    const up = (iface: string): Promise<boolean> => {
      let state = linkUp.get(iface);
      if (state === undefined) {
        state = this.#o.announcer.linkUp(iface);
        linkUp.set(iface, state);
      }
      return state;
    };
    const now = this.#now();
    for (const a of this.#announcements) {
      if (!a.nodes.includes(node)) continue;
      // An address this node could not add lately is left to the others for a while.
      if ((this.#failedUntil.get(a.address) ?? 0) > now) continue;
      let chosen: string | undefined;
      for (const iface of await this.#interfacesOf(a)) {
        if (await up(iface)) {
          chosen = iface;
          break;
        }
      }
      const liveNodes = a.nodes.filter((n) => n === node || this.#speakers.has(n));
      candidates.set(a.address, { address: a.address, interface: chosen, liveNodes });
    }
    return candidates;
  }

  async #interfacesOf(a: L2Announcement): Promise<readonly string[]> {
    if (a.interfaces.length > 0) return a.interfaces;
    if (!this.#routeInterfaces.has(a.address)) {
      this.#routeInterfaces.set(
        a.address,
        await this.#o.announcer.routeInterface(a.address).catch(() => undefined),
      );
    }
    const iface = this.#routeInterfaces.get(a.address);
    return iface === undefined ? [] : [iface];
  }

  async #do(step: L2Step, now: number): Promise<void> {
    const log = this.#o.logger;
    switch (step.kind) {
      case 'acquire': {
        let lease: L2Lease | undefined;
        try {
          lease = await this.#leases.acquire(step.address, this.#o.leaseTtlMs);
        } catch (err) {
          this.#redisDown(err);
          return;
        }
        if (lease === undefined || !this.#running) {
          if (lease !== undefined) await this.#leases.release(step.address, lease).catch(() => {});
          return;
        }
        this.#held.set(step.address, {
          interface: step.interface,
          lease,
          acquiredAt: now,
          confirmedAt: now,
        });
        this.#o.onLeaseEvent?.('acquired');
        log.info(
          { address: step.address, interface: step.interface, epoch: lease.epoch },
          'L2 lease acquired; announcing',
        );
        await this.#takeOver(step.address, lease);
        return;
      }
      case 'renew': {
        const holding = this.#held.get(step.address);
        if (holding === undefined) return;
        try {
          const kept = await this.#leases.renew(step.address, holding.lease, this.#o.leaseTtlMs);
          if (kept) holding.confirmedAt = now;
          else {
            log.warn({ address: step.address, epoch: holding.lease.epoch }, 'L2 lease lost');
            await this.#giveUp(step.address, 'lost', false);
          }
        } catch (err) {
          // Unreachable is not lost: keep the address (docs/l2.md, split brain).
          this.#redisDown(err);
        }
        return;
      }
      case 'release':
        log.info({ address: step.address, reason: step.reason }, 'L2 address given up');
        await this.#giveUp(step.address, 'released', true);
        return;
    }
  }

  /** Whether this process may still act for the address under `lease` (the fence). */
  #mayAct(address: string, lease: L2Lease, confirmedWithin?: number): boolean {
    const holding = this.#held.get(address);
    if (holding === undefined || holding.lease.epoch !== lease.epoch || !this.#running) {
      return false;
    }
    return confirmedWithin === undefined || this.#now() - holding.confirmedAt < confirmedWithin;
  }

  async #takeOver(address: string, lease: L2Lease): Promise<void> {
    const holding = this.#held.get(address);
    if (holding === undefined || !this.#mayAct(address, lease)) return;
    try {
      await this.#o.announcer.add(address, holding.interface);
    } catch (err) {
      this.#o.logger.error(
        { err: String(err), address, retryInMs: ADD_FAILURE_BACKOFF_MS },
        'could not add the address; releasing it',
      );
      this.#failedUntil.set(address, this.#now() + ADD_FAILURE_BACKOFF_MS);
      await this.#giveUp(address, 'released', true);
      return;
    }
    if (!this.#mayAct(address, lease)) {
      await this.#o.announcer.remove(address, holding.interface).catch(() => undefined);
      return;
    }
    this.#o.onHeld?.(address, holding.interface, true);
    // Not awaited: arping lingers a second after sending, and renewals must not wait for it.
    void this.#announceRounds(address, lease, holding.interface);
  }

  /** The rounds of {@link ANNOUNCE_AT_MS}, each behind the fence. */
  async #announceRounds(address: string, lease: L2Lease, iface: string): Promise<void> {
    const started = this.#now();
    for (const at of ANNOUNCE_AT_MS) {
      const wait = started + at - this.#now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref());
      if (!this.#mayAct(address, lease, this.#o.leaseTtlMs)) return;
      void this.#announce(address, iface);
    }
  }

  async #announce(address: string, iface: string): Promise<void> {
    try {
      await this.#o.announcer.announce(address, iface);
    } catch (err) {
      this.#o.logger.warn({ err: String(err), address, interface: iface }, 'announcement failed');
    }
  }

  /** Removes the address from its interface first, then (if asked) releases the lease. */
  async #giveUp(address: string, event: 'lost' | 'released', release: boolean): Promise<void> {
    const holding = this.#held.get(address);
    if (holding === undefined) return;
    this.#held.delete(address);
    try {
      await this.#o.announcer.remove(address, holding.interface);
    } catch (err) {
      this.#o.logger.error({ err: String(err), address }, 'could not remove the address');
    }
    this.#o.onHeld?.(address, holding.interface, false);
    this.#o.onLeaseEvent?.(event);
    if (!release) return;
    try {
      await this.#leases.release(address, holding.lease);
    } catch (err) {
      // It expires within the TTL.
      this.#redisDown(err);
    }
  }

  async #removeStale(): Promise<void> {
    const byInterface = new Map<string, Set<string>>();
    for (const a of this.#announcements) {
      if (this.#held.has(a.address)) continue;
      for (const iface of await this.#interfacesOf(a)) {
        const set = byInterface.get(iface) ?? new Set<string>();
        set.add(a.address);
        byInterface.set(iface, set);
      }
    }
    for (const [iface, addresses] of byInterface) {
      let present: Set<string>;
      try {
        present = await this.#o.announcer.hostAddresses(iface);
      } catch {
        continue;
      }
      for (const address of addresses) {
        if (!present.has(address) || this.#held.has(address)) continue;
        this.#o.logger.warn(
          { address, interface: iface },
          'removing an address this node does not hold',
        );
        await this.#o.announcer.remove(address, iface).catch(() => undefined);
      }
    }
  }

  #redisDown(err: unknown): void {
    // Failing before the first answer is the connection still being made, not an outage.
    if (!this.#redisFailing && this.#reached) {
      this.#o.logger.warn(
        { err: String(err), held: [...this.#held.keys()] },
        'L2: Redis unreachable; keeping the addresses held, taking none',
      );
    }
    this.#redisFailing = true;
  }

  #redisUp(now: number): void {
    if (this.#redisFailing && this.#reached) {
      this.#o.logger.info('L2: Redis reachable again; reconciling');
      this.#quietUntil = now + this.#o.leaseTtlMs;
    }
    this.#redisFailing = false;
    this.#reached = true;
  }
}

/**
 * How long a node that is not preferred waits after seeing a lease free: a third of the renewal
 * interval, enough for the preferred node's own tick to come first most of the time, short
 * enough that a failover costs little more than the TTL.
 */
function graceOf(timing: L2Timing): number {
  return Math.max(10, Math.floor(timing.renewIntervalMs / 3));
}
