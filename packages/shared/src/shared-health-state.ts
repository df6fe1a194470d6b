/**
 * The shared health state of an endpoint as it is written to Redis (the fields of
 * `healthKey(backendId)`, docs/redis-keyspace.md) and read by every edge node and the dashboard.
 * The state machine that produces it lives in the dataplane (`health-state.ts`).
 */

/** Where an endpoint stands. `unknown` (never probed here, nothing shared yet) is usable. */
export type HealthStatus = 'unknown' | 'healthy' | 'unhealthy';

const STATUSES: ReadonlySet<string> = new Set<HealthStatus>(['unknown', 'healthy', 'unhealthy']);

/** The JSON value of an endpoint's field in the `healthKey(backendId)` Redis hash. */
export interface SharedHealthState {
  status: HealthStatus;
  /** When the status last changed, ms since the epoch. */
  since: number;
  /** Consecutive failed probes at the time of writing. */
  failures: number;
  /** Consecutive successful probes at the time of writing. */
  successes: number;
  /** The node that wrote it (the probe owner), when known. */
  by?: string;
}

/**
 * Parses a Redis hash value written by the dataplane's `HealthTracker.serialize`. Returns undefined for
 * anything that is not such a state (bad JSON, unknown status, negative or fractional counters,
 * a non-finite time), so a corrupt field is ignored instead of trusted. Unknown fields are
 * ignored, so an older node reads a newer node's value.
 */
export function parseHealthState(json: string): SharedHealthState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { status, since, failures, successes, by } = raw as Record<string, unknown>;
  if (typeof status !== 'string' || !STATUSES.has(status)) return undefined;
  if (typeof since !== 'number' || !Number.isFinite(since) || since < 0) return undefined;
  if (!isCount(failures) || !isCount(successes)) return undefined;
  if (by !== undefined && (typeof by !== 'string' || by === '')) return undefined;
  const state: SharedHealthState = {
    status: status as HealthStatus,
    since,
    failures,
    successes,
  };
  if (by !== undefined) state.by = by;
  return state;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
