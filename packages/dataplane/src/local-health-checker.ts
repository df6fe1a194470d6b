/**
 * Health checking for a single dataplane with no Redis (standalone mode): this process probes
 * every endpoint itself and keeps the results in memory. The decisions are the same pure parts
 * the shared `HealthChecker` uses (`probeTargets`, `HealthTracker` thresholds, `PassiveEjector`,
 * `jitteredInterval`), so a HealthCheckPolicy behaves here as it does in a cluster; only the
 * sharing between nodes is absent.
 *
 * - Each probe target is probed every `interval` ± 10 %, the next probe timed from the start of
 *   the previous one, never two at once. The first probe comes within a random fraction of
 *   {@link FIRST_PROBE_SPREAD_MS} (or the interval, if shorter), so a table update is judged
 *   quickly and targets do not probe in lockstep.
 * - A changed interval or timeout reschedules the target the same way.
 */
import {
  type Backend,
  createLogger,
  endpointField,
  type PierLogger,
  type RouteTable,
} from '@pier/shared';
import type { Dispatcher } from 'undici';
import type { DataplaneHealth, HealthEvents } from './dataplane-parts.ts';
import { jitteredInterval, type ProbeTargetSpec, probeTargets } from './health-checker.ts';
import { HealthTracker } from './health-state.ts';
import { createProbeAgent, probe, probeSucceeded } from './http-prober.ts';
import { PassiveEjector } from './passive-ejector.ts';

/** New or changed targets are first probed within this, ms (or their interval, if shorter). */
export const FIRST_PROBE_SPREAD_MS = 1_000;

/** Options of {@link LocalHealthChecker}. */
export interface LocalHealthCheckerOptions {
  /** Name sent in the probes' User-Agent (`pier-health-check/<node>`). */
  node: string;
  /** Defaults to a silent logger. Transitions and ejections are logged at info. */
  logger?: PierLogger;
  events?: Partial<HealthEvents>;
  /** Uniform in [0, 1): jitter and first-probe spread. Math.random when omitted. */
  random?: () => number;
  /** Wall clock, ms. Date.now when omitted. */
  clock?: () => number;
  /** Sends the probes; by default an agent of the checker's own, closed by stop(). */
  dispatcher?: Dispatcher;
}

interface BackendState {
  backend: Backend;
  tracker: HealthTracker;
  endpoints: Set<string>;
  /** Endpoints that can take traffic: the base of maxEjectionPercent. */
  readyCount: number;
}

interface Target extends ProbeTargetSpec {
  timer: NodeJS.Timeout | undefined;
  inFlight: boolean;
}

/** In-memory, single-node health checking; see the module comment. */
export class LocalHealthChecker implements DataplaneHealth {
  readonly #node: string;
  readonly #log: PierLogger;
  readonly #events: Partial<HealthEvents>;
  readonly #random: () => number;
  readonly #clock: () => number;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #ejector = new PassiveEjector();
  readonly #backends = new Map<string, BackendState>();
  readonly #targets = new Map<string, Target>();
  #running = false;

  constructor(options: LocalHealthCheckerOptions) {
    this.#node = options.node;
    this.#log = options.logger ?? createLogger({ name: 'dataplane', level: 'silent' });
    this.#events = options.events ?? {};
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? Date.now;
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? createProbeAgent();
  }

  /** Every target is probed here. */
  get owned(): number {
    return this.#targets.size;
  }

  async start(): Promise<void> {
    this.#running = true;
    for (const target of this.#targets.values()) this.#scheduleFirst(target);
  }

  /** Nothing is known elsewhere: resolves at once. */
  synced(): Promise<void> {
    return Promise.resolve();
  }

  update(table: RouteTable): void {
    for (const id of this.#backends.keys()) {
      if (Object.hasOwn(table.backends, id)) continue;
      this.#backends.delete(id);
      this.#ejector.forget(id);
    }
    for (const backend of Object.values(table.backends)) {
      const ids = new Set(backend.endpoints.map((e) => endpointField(e.address, e.port)));
      let state = this.#backends.get(backend.id);
      if (state === undefined) {
        state = {
          backend,
          tracker: new HealthTracker({ node: this.#node }),
          endpoints: ids,
          readyCount: 0,
        };
        this.#backends.set(backend.id, state);
      } else {
        state.tracker.forget(ids);
        this.#ejector.forget(backend.id, ids);
        state.backend = backend;
        state.endpoints = ids;
      }
      state.readyCount = backend.endpoints.filter((e) => e.ready && !e.terminating).length;
    }
    this.#updateTargets(probeTargets(Object.values(table.backends)));
  }

  usable(backendId: string, endpointId: string, now: number): boolean {
    const state = this.#backends.get(backendId);
    if (state !== undefined && !state.tracker.isUsable(endpointId)) return false;
    return !this.#ejector.isEjected(backendId, endpointId, now);
  }

  reportResult(backendId: string, endpointId: string, ok: boolean, now: number): void {
    const state = this.#backends.get(backendId);
    if (state === undefined || !state.endpoints.has(endpointId)) return;
    const ejection = this.#ejector.recordResult(
      backendId,
      endpointId,
      ok,
      now,
      state.backend.healthCheck.passive,
      state.readyCount,
    );
    if (ejection === undefined) return;
    this.#log.info(
      {
        backend: backendId,
        endpoint: endpointId,
        ms: Math.max(1, Math.ceil(ejection.ejectedUntil - now)),
        multiplier: ejection.multiplier,
      },
      'endpoint ejected after consecutive failed requests',
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    for (const target of this.#targets.values()) {
      clearTimeout(target.timer);
      target.timer = undefined;
    }
    if (this.#ownDispatcher) await this.#dispatcher.destroy().catch(() => undefined);
  }

  #updateTargets(specs: Map<string, ProbeTargetSpec>): void {
    for (const [key, target] of this.#targets) {
      if (specs.has(key)) continue;
      clearTimeout(target.timer);
      this.#targets.delete(key);
    }
    for (const [key, spec] of specs) {
      const target = this.#targets.get(key);
      if (target === undefined) {
        const created: Target = { ...spec, timer: undefined, inFlight: false };
        this.#targets.set(key, created);
        if (this.#running) this.#scheduleFirst(created);
        continue;
      }
      const changed = target.intervalMs !== spec.intervalMs || target.timeoutMs !== spec.timeoutMs;
      target.members = spec.members;
      target.intervalMs = spec.intervalMs;
      target.timeoutMs = spec.timeoutMs;
      if (changed && target.timer !== undefined) this.#scheduleFirst(target);
    }
  }

  #scheduleFirst(target: Target): void {
    const spread = Math.min(target.intervalMs, FIRST_PROBE_SPREAD_MS);
    this.#schedule(target, Math.floor(this.#random() * spread));
  }

  #schedule(target: Target, delayMs: number): void {
    clearTimeout(target.timer);
    target.timer = setTimeout(() => {
      target.timer = undefined;
      this.#probe(target);
    }, delayMs);
    target.timer.unref();
  }

  #probe(target: Target): void {
    if (!this.#running || this.#targets.get(target.key) !== target || target.inFlight) return;
    target.inFlight = true;
    const started = this.#clock();
    const spec = {
      address: target.address,
      port: target.port,
      path: target.path,
      timeoutMs: target.timeoutMs,
      userAgent: `pier-health-check/${this.#node}`,
      ...(target.host === undefined ? {} : { host: target.host }),
    };
    void probe(spec, this.#dispatcher).then((result) => {
      target.inFlight = false;
      if (!this.#running || this.#targets.get(target.key) !== target) return;
      const now = this.#clock();
      try {
        this.#record(target, result, now);
      } catch (err) {
        this.#log.error({ err, target: target.key }, 'health callback failed');
      }
      if (target.timer === undefined) {
        const wait = jitteredInterval(target.intervalMs, this.#random) - (now - started);
        this.#schedule(target, Math.max(0, wait));
      }
    });
  }

  #record(target: Target, result: { status?: number; error?: string }, now: number): void {
    let allOk = target.members.length > 0;
    for (const member of target.members) {
      const state = this.#backends.get(member.backendId);
      if (state === undefined) continue;
      const hc = state.backend.healthCheck;
      const ok = probeSucceeded(result, hc.http.expectedStatuses);
      allOk &&= ok;
      const transition = state.tracker.record(member.endpointId, ok, now, hc);
      if (transition === undefined) continue;
      this.#log.info(
        {
          backend: member.backendId,
          endpoint: member.endpointId,
          from: transition.from,
          to: transition.to,
          ...(result.status === undefined ? {} : { status: result.status }),
          ...(result.error === undefined ? {} : { error: result.error }),
        },
        'endpoint health changed',
      );
      this.#events.onTransition?.(
        member.backendId,
        member.endpointId,
        transition.from,
        transition.to,
      );
    }
    this.#events.onProbe?.({ ok: allOk });
  }
}
