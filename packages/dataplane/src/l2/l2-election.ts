/**
 * Whether this node announces an address in L2 mode: the decision half of L2 mode, pure and
 * clock-free (MetalLB's layer2_controller; the "how" is `L2Announcer`). Each tick the speaker
 * gives it what it sees (the addresses this node is eligible for, the leases in Redis, what it
 * holds) and gets back the steps to take; it never talks to Redis or the kernel itself.
 *
 * - **Spread.** Every address has a preferred node: `ownerOf(address, live eligible nodes)`
 *   (rendezvous hashing, the same as probe ownership; live = its L2 speaker is running), so holders spread over the nodes and
 *   every node computes the same preference without talking. The preferred node takes a free
 *   lease at once; the others only after seeing it free for `graceMs`, which is what lets a
 *   failover happen when the preferred node is the one that died.
 * - **Hand-off.** A holder that is not the preferred node gives the address up (remove, release)
 *   once the preferred node has been live, and it has held the address, for `handOffAfterMs`,
 *   so a node that joins gets its share. (Held that long: after a failover the dead preferred
 *   node still looks live until its heartbeat expires; it must not get the address handed to
 *   it.) An address handed off and taken back (the preferred node did not take it) is not
 *   handed off again for `handOffHoldMs`: no flapping. A hand-off that went through (another
 *   node was seen holding the address) lifts the hold.
 * - **Redis unreadable** (`leases` undefined): keep renewing what is held (the renewals fail and
 *   the speaker keeps the addresses), acquire and hand off nothing.
 */
import { ownerOf } from '@pier/shared';

/** An address this node is eligible to announce. */
export interface L2Candidate {
  readonly address: string;
  /**
   * Where the address would go: the first of its interfaces that is up on this node; undefined
   * when none is (the node then neither takes nor keeps the address).
   */
  readonly interface: string | undefined;
  /** The address's eligible nodes whose L2 speaker is alive, this node included. */
  readonly liveNodes: readonly string[];
}

/** The lease holder of an address as read from Redis. */
export interface ObservedLease {
  readonly node: string;
  readonly epoch: number;
}

/** An address this node holds. */
export interface HeldAddress {
  readonly interface: string;
  /** When this node took it. */
  readonly acquiredAt: number;
}

/** What the speaker sees on one tick. */
export interface L2View {
  readonly now: number;
  /** Addresses this node is eligible for, by address. */
  readonly candidates: ReadonlyMap<string, L2Candidate>;
  /** Lease holder per candidate address (undefined: free); undefined when Redis is unreadable. */
  readonly leases: ReadonlyMap<string, ObservedLease | undefined> | undefined;
  /** Addresses this node holds now. */
  readonly held: ReadonlyMap<string, HeldAddress>;
  /**
   * Since when each live node's current speaker process has been seen (a restarted process
   * starts again), so an address is handed only to a node that has been taking part a while.
   */
  readonly liveSince: ReadonlyMap<string, number>;
}

/** Why an address is given up. */
export type ReleaseReason = 'not-announced' | 'interface-down' | 'interface-changed' | 'hand-off';

/** One step for the speaker, at most one per address and tick. */
export type L2Step =
  | { readonly kind: 'acquire'; readonly address: string; readonly interface: string }
  | { readonly kind: 'renew'; readonly address: string }
  | { readonly kind: 'release'; readonly address: string; readonly reason: ReleaseReason };

/** Timing of {@link L2Election}. */
export interface L2ElectionOptions {
  readonly node: string;
  /** How long a node that is not preferred waits after seeing a lease free before taking it. */
  readonly graceMs: number;
  /** How long the preferred node must have been live before a holder hands it the address. */
  readonly handOffAfterMs: number;
  /** After a hand-off, how long an address taken back is kept regardless of preference. */
  readonly handOffHoldMs: number;
}

/** Decides, per tick, which addresses this node takes, keeps and gives up. */
export class L2Election {
  readonly #o: L2ElectionOptions;
  /** When each address was first seen free (and not yet taken by anyone). */
  readonly #freeSince = new Map<string, number>();
  /** When this node last handed each address off. */
  readonly #handedOff = new Map<string, number>();

  constructor(options: L2ElectionOptions) {
    this.#o = options;
  }

  /**
   * Whether the last plan left a free lease waiting out its grace: the speaker then looks again
   * after `graceMs` rather than a whole renewal interval, which is most of what a failover costs.
   */
  get waiting(): boolean {
    return this.#freeSince.size > 0;
  }

  /** The steps for this tick. */
  plan(view: L2View): L2Step[] {
    const steps: L2Step[] = [];
    for (const [address, held] of view.held) {
      const candidate = view.candidates.get(address);
      if (candidate === undefined) {
        steps.push({ kind: 'release', address, reason: 'not-announced' });
      } else if (candidate.interface === undefined) {
        steps.push({ kind: 'release', address, reason: 'interface-down' });
      } else if (candidate.interface !== held.interface) {
        // Its interface went down and another is up (or the pool's list changed): give it up;
        // the next tick takes it again (at once: the lease is free and this node preferred or
        // past the grace) on the new interface.
        steps.push({ kind: 'release', address, reason: 'interface-changed' });
      } else if (
        view.leases !== undefined &&
        view.now - held.acquiredAt >= this.#o.handOffAfterMs &&
        this.#shouldHandOff(address, candidate, view)
      ) {
        this.#handedOff.set(address, view.now);
        steps.push({ kind: 'release', address, reason: 'hand-off' });
      } else {
        steps.push({ kind: 'renew', address });
      }
    }
    if (view.leases === undefined) return steps;
    for (const [address, candidate] of view.candidates) {
      if (view.held.has(address)) continue;
      const lease = view.leases.get(address);
      // Another node took it: a hand-off of ours went through, the hold no longer applies.
      if (lease !== undefined) this.#handedOff.delete(address);
      if (lease !== undefined || candidate.interface === undefined) {
        this.#freeSince.delete(address);
        continue;
      }
      const since = this.#freeSince.get(address) ?? view.now;
      this.#freeSince.set(address, since);
      const preferred = this.preferred(candidate) === this.#o.node;
      if (preferred || view.now - since >= this.#o.graceMs) {
        this.#freeSince.delete(address);
        steps.push({ kind: 'acquire', address, interface: candidate.interface });
      }
    }
    for (const address of this.#freeSince.keys()) {
      if (!view.candidates.has(address)) this.#freeSince.delete(address);
    }
    return steps;
  }

  /** The node that should hold the candidate's address now (this node counts as live). */
  preferred(candidate: L2Candidate): string | undefined {
    const live = candidate.liveNodes.includes(this.#o.node)
      ? candidate.liveNodes
      : [...candidate.liveNodes, this.#o.node];
    return ownerOf(candidate.address, live);
  }

  #shouldHandOff(address: string, candidate: L2Candidate, view: L2View): boolean {
    const now = view.now;
    const preferred = this.preferred(candidate);
    if (preferred === undefined || preferred === this.#o.node) return false;
    const liveSince = view.liveSince.get(preferred);
    if (liveSince === undefined || now - liveSince < this.#o.handOffAfterMs) return false;
    const last = this.#handedOff.get(address);
    return last === undefined || now - last >= this.#o.handOffHoldMs;
  }
}
