/**
 * When probes are sent: one timer per probe target, for the targets this process owns. Shared by
 * the Redis-backed `HealthChecker` (ownership spread over the live nodes) and the single-node
 * `LocalHealthChecker` (owns everything); what a result means is theirs to decide (`onResult`).
 *
 * - Each owned target is probed every `interval` ± 10 % ({@link jitteredInterval}), the next
 *   probe timed from the start of the previous one, never two at once.
 * - The first probe comes after a random fraction of the interval (at start and on take-over, so
 *   a fleet never probes in lockstep), or, for targets a table update created or changed, of at
 *   most {@link SETTINGS_CHANGE_MS} (an edited policy reaches the probes within a second), spread
 *   further when many start together ({@link FIRST_PROBES_PER_SECOND}).
 * - Probes go through a {@link ProbeAgent} of the scheduler's own unless a dispatcher is given;
 *   the pools of endpoints that left the table are closed.
 */
import { type Backend, endpointField, type PierLogger } from '@pier/shared';
import type { Dispatcher } from 'undici';
import { createProbeAgent, type ProbeResult, probe, probeOrigin } from './http-prober.ts';
import { ProbeAgent } from './probe-agent.ts';
import { probeKey } from './probe-ownership.ts';

/** Targets created or changed by a table update are first probed within this, ms. */
export const SETTINGS_CHANGE_MS = 1_000;

/**
 * First probes of targets new to a table update are spread so that at most this many start per
 * second (but over at least {@link SETTINGS_CHANGE_MS} and at most the target's interval): a
 * table that brings 50,000 endpoints at once must not probe them all in the same second.
 */
export const FIRST_PROBES_PER_SECOND = 2_000;

/** A backend and endpoint sharing a probe target. */
export interface ProbeMember {
  backendId: string;
  /** `endpointField(address, port)` of the endpoint's traffic port. */
  endpointId: string;
}

/** One probe target: what goes on the wire, and who judges the answer. */
export interface ProbeTargetSpec {
  /** {@link probeKey}. */
  key: string;
  address: string;
  /** Port probed (the policy's, else the endpoint's). */
  port: number;
  path: string;
  host?: string;
  /** The shortest interval of the members' backends, ms. */
  intervalMs: number;
  /** The longest timeout of the members' backends, ms. */
  timeoutMs: number;
  members: ProbeMember[];
}

/**
 * The probe targets of a set of backends: every endpoint that is ready or serving, deduplicated
 * by {@link probeKey}. Pure.
 */
export function probeTargets(backends: Iterable<Backend>): Map<string, ProbeTargetSpec> {
  const targets = new Map<string, ProbeTargetSpec>();
  for (const backend of backends) {
    const hc = backend.healthCheck;
    for (const endpoint of backend.endpoints) {
      if (!endpoint.ready && !endpoint.serving) continue;
      const key = probeKey(endpoint, hc);
      const member = {
        backendId: backend.id,
        endpointId: endpointField(endpoint.address, endpoint.port),
      };
      const target = targets.get(key);
      if (target === undefined) {
        const spec: ProbeTargetSpec = {
          key,
          address: endpoint.address,
          port: hc.port ?? endpoint.port,
          path: hc.http.path,
          intervalMs: hc.intervalMs,
          timeoutMs: hc.timeoutMs,
          members: [member],
        };
        if (hc.http.host !== undefined) spec.host = hc.http.host;
        targets.set(key, spec);
        continue;
      }
      target.intervalMs = Math.min(target.intervalMs, hc.intervalMs);
      target.timeoutMs = Math.max(target.timeoutMs, hc.timeoutMs);
      if (!target.members.some((m) => m.backendId === member.backendId)) {
        target.members.push(member);
      }
    }
  }
  return targets;
}

/** `intervalMs` × a factor in [0.9, 1.1), from `random` in [0, 1). */
export function jitteredInterval(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}

/** A target as the scheduler keeps it. */
export interface ScheduledTarget extends ProbeTargetSpec {
  /** Whether this process probes it now. */
  owned: boolean;
  timer: NodeJS.Timeout | undefined;
  inFlight: boolean;
}

/** Options of {@link ProbeScheduler}. */
export interface ProbeSchedulerOptions {
  /** Sent in the probes' User-Agent: `pier-health-check/<node>`. */
  node: string;
  logger: PierLogger;
  /** Uniform in [0, 1): jitter and first-probe spread. */
  random: () => number;
  /** Wall clock, ms. */
  clock: () => number;
  /** Sends the probes; by default a {@link ProbeAgent} of the scheduler's own, closed by stop(). */
  dispatcher?: Dispatcher;
  /** Whether this process probes the target with this key (default: every target). */
  owns?: (key: string) => boolean;
  /** A probe of an owned target ended; a throw is logged and probing goes on. */
  onResult: (target: ScheduledTarget, result: ProbeResult, now: number) => void;
}

/** Timers and probes of the owned targets; see the module comment. */
export class ProbeScheduler {
  readonly #options: ProbeSchedulerOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #targets = new Map<string, ScheduledTarget>();
  readonly #owns: (key: string) => boolean;
  #running = false;

  constructor(options: ProbeSchedulerOptions) {
    this.#options = options;
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? createProbeAgent();
    this.#owns = options.owns ?? (() => true);
  }

  /** Targets this process owns now. */
  get owned(): number {
    let count = 0;
    for (const target of this.#targets.values()) if (target.owned) count += 1;
    return count;
  }

  /** Every target of the current table, owned or not. */
  targets(): IterableIterator<ScheduledTarget> {
    return this.#targets.values();
  }

  /** Starts probing the owned targets, each first after a random fraction of its interval. */
  start(): void {
    this.#running = true;
    this.#reconcile();
  }

  /**
   * Takes the targets of a new table. With `soon`, targets it creates or whose interval or
   * timeout changed are first probed within {@link SETTINGS_CHANGE_MS} (further spread for many);
   * otherwise (the first table) within their interval.
   */
  update(specs: Map<string, ProbeTargetSpec>, soon: boolean): void {
    for (const [key, target] of this.#targets) {
      if (specs.has(key)) continue;
      clearTimeout(target.timer);
      this.#targets.delete(key);
    }
    const created: ScheduledTarget[] = [];
    for (const [key, spec] of specs) {
      const target = this.#targets.get(key);
      if (target === undefined) {
        const fresh: ScheduledTarget = {
          ...spec,
          owned: this.#owns(key),
          timer: undefined,
          inFlight: false,
        };
        this.#targets.set(key, fresh);
        if (this.#running && fresh.owned) created.push(fresh);
        continue;
      }
      const changed = target.intervalMs !== spec.intervalMs || target.timeoutMs !== spec.timeoutMs;
      target.members = spec.members;
      target.intervalMs = spec.intervalMs;
      target.timeoutMs = spec.timeoutMs;
      if (changed && target.timer !== undefined) this.#scheduleFirst(target, true);
    }
    const bulkMs = Math.ceil((created.length / FIRST_PROBES_PER_SECOND) * 1_000);
    for (const target of created) this.#scheduleFirst(target, soon, bulkMs);
    if (this.#dispatcher instanceof ProbeAgent) {
      const origins = new Set<string>();
      for (const target of this.#targets.values()) origins.add(probeOrigin(target));
      this.#dispatcher.retain(origins);
    }
  }

  /** Ownership changed (the live nodes did): starts and stops timers to match. */
  reassign(): void {
    for (const target of this.#targets.values()) target.owned = this.#owns(target.key);
    if (this.#running) this.#reconcile();
  }

  /** Stops every timer; probes in flight are dropped when they end. Closes its own dispatcher. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const target of this.#targets.values()) {
      clearTimeout(target.timer);
      target.timer = undefined;
    }
    if (this.#ownDispatcher) await this.#dispatcher.destroy().catch(() => undefined);
  }

  /** Starts probing owned targets that wait for nothing, stops the timers of the others. */
  #reconcile(): void {
    for (const target of this.#targets.values()) {
      if (!target.owned) {
        clearTimeout(target.timer);
        target.timer = undefined;
      } else if (target.timer === undefined && !target.inFlight) {
        this.#scheduleFirst(target, false);
      }
    }
  }

  /**
   * Schedules a target's first probe after a random fraction of its interval, or, when `soon`,
   * of {@link SETTINGS_CHANGE_MS} stretched to `bulkMs` when many targets start together.
   */
  #scheduleFirst(target: ScheduledTarget, soon: boolean, bulkMs = 0): void {
    const soonMs = Math.max(SETTINGS_CHANGE_MS, bulkMs);
    const spread = soon ? Math.min(target.intervalMs, soonMs) : target.intervalMs;
    this.#schedule(target, Math.floor(this.#options.random() * spread));
  }

  #schedule(target: ScheduledTarget, delayMs: number): void {
    clearTimeout(target.timer);
    target.timer = setTimeout(() => {
      target.timer = undefined;
      this.#probe(target);
    }, delayMs);
    target.timer.unref();
  }

  #probe(target: ScheduledTarget): void {
    if (!this.#running || !target.owned || target.inFlight) return;
    if (this.#targets.get(target.key) !== target) return;
    target.inFlight = true;
    const o = this.#options;
    const started = o.clock();
    const spec = {
      address: target.address,
      port: target.port,
      path: target.path,
      timeoutMs: target.timeoutMs,
      userAgent: `pier-health-check/${o.node}`,
      ...(target.host === undefined ? {} : { host: target.host }),
    };
    void probe(spec, this.#dispatcher).then((result) => {
      target.inFlight = false;
      if (!this.#running || this.#targets.get(target.key) !== target) return;
      const now = o.clock();
      try {
        o.onResult(target, result, now);
      } catch (err) {
        // A throwing callback must neither stop this target's probes nor crash the process.
        o.logger.error({ err, target: target.key }, 'health callback failed');
      }
      if (target.owned && target.timer === undefined) {
        const wait = jitteredInterval(target.intervalMs, o.random) - (now - started);
        this.#schedule(target, Math.max(0, wait));
      }
    });
  }
}
