/**
 * What the serving thread and the dataplane's background thread ({@link BackgroundThread}) say to
 * each other. The worker follows the route table and keeps the shared health state; the serving
 * thread gets only what changed: table entries as JSON text (UTF-8 bytes in a transferred buffer),
 * and endpoints whose standing (active status, passive ejection) changed.
 */
import type { Problem, RouteSection } from '@pier/shared';
import type { HealthStatus } from '../health/health-state.ts';

/** What the worker needs: where Redis is, where the table is saved, and how to check health. */
export interface BackgroundWorkerData {
  redisUrl: string;
  redisPassword?: string;
  stateFile: string;
  logLevel: string;
  /** Fields every log line of the worker carries (those of the serving thread's logger). */
  logBindings?: Record<string, unknown>;
  blockMs?: number;
  persistEveryMs?: number;
  /** Keep the shared health state too (absent: routes only). */
  health?: {
    /** This node's name (the Kubernetes node name). */
    node: string;
    /** Whether this process sends the node's probes and heartbeats. */
    probes: boolean;
  };
}

/**
 * An endpoint's standing as the serving thread needs it: `unhealthy` (active probes), and the
 * end of a passive ejection, ms since the epoch (0: not ejected).
 */
export type EndpointStanding = [
  backendId: string,
  endpointId: string,
  unhealthy: boolean,
  ejectedUntil: number,
];

/** A change of active status, for the metrics of the serving thread. */
export type StatusChange = [
  backendId: string,
  endpointId: string,
  from: HealthStatus,
  to: HealthStatus,
];

/** One proxied attempt's outcome, from the serving thread (the passive ejector is the worker's). */
export type AttemptResult = [backendId: string, endpointId: string, ok: boolean, at: number];

/** Messages from the worker, in order. */
export type WorkerMessage =
  /**
   * A new table begins: the entries that follow are its changes; with `full`, they are the
   * whole table (the first one of a worker, from disk or Redis) and replace the one before.
   */
  | { type: 'begin'; revision: number; full: boolean }
  /**
   * Changed or new entries of one section: entry i is `keys[i]`, its JSON text the UTF-8 bytes
   * of `text` from `ends[i - 1]` (0 for the first) to `ends[i]`. The buffer is transferred, not
   * copied, and it is not on either heap: the serving thread's collector never copies or marks
   * the text of a large update, only the short-lived string of the entry it is parsing.
   */
  | { type: 'entries'; section: RouteSection; keys: string[]; text: Uint8Array; ends: number[] }
  /** Keys gone from one section. */
  | { type: 'removed'; section: RouteSection; keys: string[] }
  /** The table is complete. */
  | { type: 'end' }
  | { type: 'problems'; problems: Problem[] }
  | { type: 'redis'; connected: boolean }
  /** `RouteSync.start()` resolved: the saved table, if any, has been sent. */
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string }
  /** The health checker started (or could not: `failed`). */
  | { type: 'health-started'; failed?: string }
  /**
   * Endpoints whose standing changed since the last report (an endpoint not named keeps its
   * standing; one reported usable and not ejected is forgotten), status changes, and the probes
   * sent since the last report.
   */
  | {
      type: 'health';
      standings: EndpointStanding[];
      statuses: StatusChange[];
      probes: { healthy: number; unhealthy: number };
      owned: number;
    }
  /** Answer to a `health-synced` question: every standing known then has been reported. */
  | { type: 'health-synced'; id: number }
  | { type: 'health-stopped' };

/** Messages to the worker. */
export type MainMessage =
  | { type: 'stop' }
  | { type: 'results'; results: AttemptResult[] }
  | { type: 'health-synced'; id: number }
  | { type: 'health-stop'; release: boolean };
