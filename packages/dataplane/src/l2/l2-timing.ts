/** The timing of L2 mode, checked once at start-up (flags `--l2-lease-ttl`, `--l2-renew-interval`). */

/** Lease lifetime and renewal period of L2 mode. */
export interface L2Timing {
  /** Lifetime of a lease; a dead holder's address moves after at most this plus a tick or two. */
  readonly leaseTtlMs: number;
  /** Renewal and election period; also the grace a node that is not preferred waits. */
  readonly renewIntervalMs: number;
}

/** The defaults: failover well under a second, four renewals per lease lifetime. */
export const L2_TIMING_DEFAULTS: L2Timing = Object.freeze({
  leaseTtlMs: 600,
  renewIntervalMs: 150,
});

/**
 * Checks L2 timing: positive integers, and at least two renewals per TTL, else one slow renewal
 * loses the lease.
 *
 * @throws RangeError naming the bad value.
 */
export function assertL2Timing(timing: L2Timing): void {
  for (const [name, value] of [
    ['leaseTtlMs', timing.leaseTtlMs],
    ['renewIntervalMs', timing.renewIntervalMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`L2 ${name} must be a positive integer, got ${value}`);
    }
  }
  if (timing.leaseTtlMs < 2 * timing.renewIntervalMs) {
    throw new RangeError(
      `the lease TTL (${timing.leaseTtlMs}ms) must be at least twice the renewal interval (${timing.renewIntervalMs}ms)`,
    );
  }
}
