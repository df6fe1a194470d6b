/**
 * Leader election over a `coordination.k8s.io/v1` Lease, in the manner of
 * client-go's leaderelection package:
 *
 * - a candidate takes the Lease when it is free (no holder) or expired;
 * - expiry is judged by the candidate's own clock: the Lease counts as expired
 *   when its record has not changed for `leaseDurationMs` since this candidate
 *   first saw it, so clock skew between nodes does not matter;
 * - every write carries the resourceVersion it read, so two candidates cannot
 *   both win (the API server refuses the second with 409 Conflict);
 * - the leader renews every `retryPeriodMs`; when it cannot renew for
 *   `renewDeadlineMs` it steps down before anyone else may take over
 *   (renewDeadline < leaseDuration);
 * - a leader that stops gracefully releases the Lease (empty holder), so a
 *   standby takes over at its next attempt instead of waiting for expiry.
 */
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';

/** The three calls leader election needs; the real one wraps CoordinationV1Api. */
export interface LeaseStore {
  get(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<V1Lease>;
  replace(lease: V1Lease): Promise<V1Lease>;
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    }),
};

export interface LeaderElectorOptions {
  store: LeaseStore;
  /** This candidate's identity (pod name). */
  identity: string;
  leaseName: string;
  leaseNamespace: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  clock?: Clock;
  onStartedLeading: () => void;
  onStoppedLeading: () => void | Promise<void>;
  onError?: (err: unknown) => void;
}

/** Checks the timing rules client-go also enforces; returns a message or undefined. */
export function leaseTimingProblem(o: {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}): string | undefined {
  if (!(o.retryPeriodMs > 0)) return 'retry period must be positive';
  if (!(o.renewDeadlineMs > o.retryPeriodMs))
    return 'renew deadline must be longer than the retry period';
  if (!(o.leaseDurationMs > o.renewDeadlineMs))
    return 'lease duration must be longer than the renew deadline';
  return undefined;
}

/**
 * A Lease read back carries its times as plain Dates, which serialize with
 * three fractional digits; the API server wants MicroTime's six.
 */
function withMicroTimes(lease: V1Lease): V1Lease {
  const spec = lease.spec;
  if (!spec) return lease;
  const micro = (t: Date | undefined): V1MicroTime | undefined =>
    t === undefined ? undefined : new V1MicroTime(new Date(t).getTime());
  return {
    ...lease,
    spec: {
      ...spec,
      ...(spec.acquireTime ? { acquireTime: micro(spec.acquireTime) } : {}),
      ...(spec.renewTime ? { renewTime: micro(spec.renewTime) } : {}),
    },
  };
}

function isConflict(err: unknown): boolean {
  const code = (err as { code?: number }).code;
  return code === 409 || code === 422;
}

export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectorOptions, 'onError'>> &
    Pick<LeaderElectorOptions, 'onError'>;
  readonly #clock: Clock;
  #observed: { key: string; at: number } | undefined;
  #lastRenew = 0;
  #leading = false;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #lease: V1Lease | undefined;

  constructor(options: LeaderElectorOptions) {
    const problem = leaseTimingProblem(options);
    if (problem) throw new RangeError(`leader election: ${problem}`);
    if (!options.identity) throw new RangeError('leader election: identity must not be empty');
    this.#clock = options.clock ?? realClock;
    this.#o = { ...options, clock: this.#clock };
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Starts campaigning; returns at once. */
  start(): void {
    this.#abort = new AbortController();
    this.#loop ??= this.#run(this.#abort.signal).finally(() => {
      this.#loop = undefined;
    });
  }

  /** Stops campaigning; a leader steps down and releases the Lease. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    if (this.#leading) {
      this.#leading = false;
      // Finish our writes before anyone else may start theirs.
      await this.#o.onStoppedLeading();
      await this.#release();
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const ok = await this.#tryAcquireOrRenew().catch((err: unknown) => {
        this.#o.onError?.(err);
        return false;
      });
      if (signal.aborted) break;
      if (ok) {
        this.#lastRenew = this.#clock.now();
        if (!this.#leading) {
          this.#leading = true;
          this.#o.onStartedLeading();
        }
      } else if (this.#leading && this.#clock.now() - this.#lastRenew >= this.#o.renewDeadlineMs) {
        // Could not renew in time: step down before the Lease can expire for others.
        this.#leading = false;
        await this.#o.onStoppedLeading();
      }
      await this.#clock.sleep(this.#o.retryPeriodMs, signal);
    }
  }

  /** One attempt: true when this candidate holds the Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    // Lease times are MicroTime: the API server wants six fractional digits.
    const now = new V1MicroTime();
    const spec = {
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      renewTime: now,
    };
    const current = await this.#o.store.get();
    if (current === undefined) {
      try {
        this.#lease = await this.#o.store.create({
          metadata: { name: this.#o.leaseName, namespace: this.#o.leaseNamespace },
          spec: { ...spec, acquireTime: now, leaseTransitions: 0 },
        });
        return true;
      } catch (err) {
        if (isConflict(err) || (err as { code?: number }).code === 409) return false;
        throw err;
      }
    }
    const holder = current.spec?.holderIdentity ?? '';
    const key = `${holder}|${String(current.spec?.renewTime ?? '')}|${current.metadata?.resourceVersion}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: this.#clock.now() };
    const durationMs = (current.spec?.leaseDurationSeconds ?? 0) * 1000;
    const expired = holder === '' || this.#clock.now() - this.#observed.at >= durationMs;
    if (holder !== this.#o.identity && !expired) return false;
    const takingOver = holder !== this.#o.identity;
    const next: V1Lease = {
      ...current,
      spec: {
        ...current.spec,
        ...spec,
        ...(takingOver
          ? { acquireTime: now, leaseTransitions: (current.spec?.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    try {
      this.#lease = await this.#o.store.replace(withMicroTimes(next));
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Gives the Lease up: empty holder, so a standby takes it at its next try. */
  async #release(): Promise<void> {
    try {
      const current = await this.#o.store.get();
      if (current?.spec?.holderIdentity !== this.#o.identity) return;
      await this.#o.store.replace(
        withMicroTimes({
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: new Date(),
          },
        }),
      );
    } catch (err) {
      this.#o.onError?.(err);
    }
  }

  /** The Lease as last written by this candidate (for tests and diagnostics). */
  get lastLease(): V1Lease | undefined {
    return this.#lease;
  }
}
