/**
 * Health checking for a single dataplane with no Redis (standalone mode): this process probes
 * every endpoint itself and keeps the results in memory. The decisions are the same pure parts
 * the shared `HealthChecker` uses (`probeTargets` and the `ProbeScheduler`'s timing, `HealthTracker`
 * thresholds, `PassiveEjector`), so a HealthCheckPolicy behaves here as it does in a cluster;
 * only the sharing between nodes is absent: this process owns every probe target.
 */
import {
  createLogger,
  type PierLogger,
  type RouteTable,
  type SharedHealthState,
  SlicedQueue,
} from '@pier/shared';
import type { Dispatcher } from 'undici';
import type { DataplaneHealth, HealthEvents } from '../dataplane-parts.ts';
import { applyBackendChanges, type BackendHealth, backendChanges } from './backend-health.ts';
import { probeSucceeded } from './http-prober.ts';
import { PassiveEjector } from './passive-ejector.ts';
import { ProbeScheduler, type ProbeTargetSpec } from './probe-scheduler.ts';

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

/** In-memory, single-node health checking; see the module comment. */
export class LocalHealthChecker implements DataplaneHealth {
  readonly #node: string;
  readonly #log: PierLogger;
  readonly #events: Partial<HealthEvents>;
  readonly #scheduler: ProbeScheduler;
  readonly #ejector = new PassiveEjector();
  readonly #backends = new Map<string, BackendHealth>();
  #hadTable = false;
  readonly #work: SlicedQueue;
  readonly #offerTable: (table: RouteTable) => void;

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
    this.#work = new SlicedQueue((err) => this.#log.error({ err }, 'health update failed'));
    this.#offerTable = this.#work.newest((table) => this.#applyTable(table));
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
    return this.#work.idle();
  }

  /** Takes a new table; applied in slices, newest first, as the shared checker does. */
  update(table: RouteTable): void {
    this.#offerTable(table);
  }

  *#applyTable(table: RouteTable): Generator<void> {
    const changes = backendChanges(this.#backends, table);
    const ignore = (): void => {};
    yield* applyBackendChanges(this.#backends, this.#ejector, changes, this.#node, {
      removed: ignore,
      gone: ignore,
      fresh: ignore,
    });
    yield* this.#scheduler.update(changes.changed, changes.removed, this.#hadTable);
    this.#hadTable = true;
  }

  /**
   * Every endpoint's state, in the form the shared checker writes to Redis, and the running
   * ejections: what standalone's dashboard shows.
   */
  view(now: number): {
    health: Map<string, Map<string, SharedHealthState>>;
    ejections: Array<{ backendId: string; endpoint: string; by: string; until: number }>;
  } {
    const health = new Map<string, Map<string, SharedHealthState>>();
    const ejections: Array<{ backendId: string; endpoint: string; by: string; until: number }> = [];
    for (const [backendId, state] of this.#backends) {
      const states = new Map<string, SharedHealthState>();
      for (const id of state.endpoints) {
        const entry = state.tracker.get(id);
        if (entry !== undefined) {
          states.set(id, {
            status: entry.status,
            since: entry.lastChange,
            failures: entry.failures,
            successes: entry.successes,
            by: entry.by ?? this.#node,
          });
        }
        const until = this.#ejector.ejectedUntil(backendId, id, now);
        if (until !== undefined) ejections.push({ backendId, endpoint: id, by: this.#node, until });
      }
      health.set(backendId, states);
    }
    return { health, ejections };
  }

  usable(backendId: string, endpointId: string, now: number): boolean {
    const state = this.#backends.get(backendId);
    if (state !== undefined && !state.tracker.isUsable(endpointId)) return false;
    return !this.#ejector.isEjected(backendId, endpointId, now);
  }

  ejectedCounts(now: number): Map<string, number> {
    return this.#ejector.ejectedCounts(now);
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
    let allOk = target.members.size > 0;
    for (const member of target.members.values()) {
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
