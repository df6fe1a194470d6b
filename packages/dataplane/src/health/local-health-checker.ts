/**
 * Health checking for a single dataplane with no Redis (standalone mode): this process probes
 * every endpoint itself and keeps the results in memory. The decisions are the same pure parts
 * the shared `HealthChecker` uses (`probeTargets` and the `ProbeScheduler`'s timing, `HealthTracker`
 * thresholds, `PassiveEjector`), so a HealthCheckPolicy behaves here as it does in a cluster;
 * only the sharing between nodes is absent: this process owns every probe target.
 */
import {
  type Backend,
  createLogger,
  endpointField,
  type PierLogger,
  type RouteTable,
} from '@pier/shared';
import type { Dispatcher } from 'undici';
import type { DataplaneHealth, HealthEvents } from '../dataplane-parts.ts';
import { HealthTracker } from './health-state.ts';
import { probeSucceeded } from './http-prober.ts';
import { PassiveEjector } from './passive-ejector.ts';
import { ProbeScheduler, type ProbeTargetSpec, probeTargets } from './probe-scheduler.ts';

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

/** In-memory, single-node health checking; see the module comment. */
export class LocalHealthChecker implements DataplaneHealth {
  readonly #node: string;
  readonly #log: PierLogger;
  readonly #events: Partial<HealthEvents>;
  readonly #scheduler: ProbeScheduler;
  readonly #ejector = new PassiveEjector();
  readonly #backends = new Map<string, BackendState>();
  #hadTable = false;

  constructor(options: LocalHealthCheckerOptions) {
    this.#node = options.node;
    this.#log = options.logger ?? createLogger({ name: 'dataplane', level: 'silent' });
    this.#events = options.events ?? {};
    this.#scheduler = new ProbeScheduler({
      node: options.node,
      logger: this.#log,
      random: options.random ?? Math.random,
      clock: options.clock ?? Date.now,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      onResult: (target, result, now) => this.#record(target, result, now),
    });
  }

  /** Every target is probed here. */
  get owned(): number {
    return this.#scheduler.owned;
  }

  async start(): Promise<void> {
    this.#scheduler.start();
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
    this.#scheduler.update(probeTargets(Object.values(table.backends)), this.#hadTable);
    this.#hadTable = true;
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
    await this.#scheduler.stop();
  }

  #record(target: ProbeTargetSpec, result: { status?: number; error?: string }, now: number): void {
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
