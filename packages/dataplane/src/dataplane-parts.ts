/**
 * The parts of a dataplane that come from outside it: where route tables come from and who keeps
 * endpoint health. In a cluster both are Redis-backed (`RouteSync`, `HealthChecker`), the
 * default; standalone mode (`pier standalone`) hands in-memory ones to the same `DataplaneApp`.
 */
import type { ChangedKeys, KeyRing, Problem, RouteTable } from '@pier/shared';
import type { HealthStatus } from './health/health-state.ts';

/** A source of route tables: calls `onTable` with each new table, from `start` until `stop`. */
export interface RouteSource {
  /** Resolves once a first table has been handed over, or the source follows in the background. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What a {@link RouteSource} reports to the dataplane. */
export interface RouteSourceHandlers {
  onTable(table: RouteTable): void;
  /**
   * Small changes patched into the table served instead of handed over as a new table (the
   * background thread does this). Only when `ready()` says the table handed over last is served
   * whole, with nothing being applied, may the source change that table's entries in place, and
   * it then calls `apply` in the same step with the new revision and the keys it changed.
   */
  patch?: {
    ready(): boolean;
    apply(table: RouteTable, changed: ChangedKeys): void;
  };
  /** Entries of a table that were dropped as invalid. */
  onProblems(problems: readonly Problem[]): void;
}

/**
 * Endpoint health as the dataplane uses it: exactly the part of `HealthChecker` that
 * `DataplaneApp` calls. `usable` is asked per request; `reportResult` is told after each attempt.
 */
export interface DataplaneHealth {
  start(): Promise<void>;
  /** Resolves once the health already known elsewhere has been read (at once when there is none). */
  synced(): Promise<void>;
  update(table: RouteTable): void;
  usable(backendId: string, endpointId: string, now: number): boolean;
  reportResult(backendId: string, endpointId: string, ok: boolean, now: number): void;
  /** Backends with endpoints passively ejected at `now`, and how many each; read when scraped. */
  ejectedCounts(now: number): ReadonlyMap<string, number>;
  stop(options?: { release?: boolean }): Promise<void>;
  /** Probe targets this instance probes now. */
  readonly owned: number;
}

/** What a {@link DataplaneHealth} reports to the dataplane, for metrics. */
export interface HealthEvents {
  onProbe(result: { ok: boolean }): void;
  onTransition(backendId: string, endpointId: string, from: HealthStatus, to: HealthStatus): void;
}

/** Parts handed to `DataplaneApp` instead of the Redis-backed defaults. */
export interface DataplaneParts {
  /** The key ring opening sealed TLS keys; read from `--key-ring-file` when absent. */
  keyRing?: KeyRing;
  routes?: (handlers: RouteSourceHandlers) => RouteSource;
  health?: (events: HealthEvents) => DataplaneHealth;
}
