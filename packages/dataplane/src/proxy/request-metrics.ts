/**
 * The per-request metrics (`pier_dataplane_requests_total`, `pier_dataplane_request_duration_seconds`)
 * at the cost of a map lookup per request.
 *
 * prom-client builds and hashes a label string on every `inc` and `observe`; with three labels on
 * the counter and one on the histogram that was a fifth of the proxy's CPU time per request
 * (measured with test/bench/proxy-cpu.ts). Here requests are counted in plain maps keyed by their
 * label values: the counter keeps prom-client's Counter, which is handed the pending counts when
 * scraped (its `collect` hook); the histogram is a small metric of its own in prom-client's
 * format, so the registry, the cluster aggregation and the exposition format are unchanged.
 */
import { Counter, type Metric, type Registry } from 'prom-client';

/** One sample in prom-client's JSON form (its typings give `type` as a numeric enum, which it is not). */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** What prom-client's registries read from a metric: `get` for exposition and cluster aggregation. */
interface CollectableHistogram {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Sample[];
  }>;
  reset(): void;
}

/** Upper bounds of the request-duration buckets, seconds. */
export const REQUEST_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

interface PendingCount {
  readonly labels: { host: string; status: string; backend: string };
  pending: number;
}

interface BackendDurations {
  /** Per bucket, not cumulative; the last slot is above the largest bound (+Inf only). */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class RequestMetrics {
  readonly #counter: Counter<'host' | 'status' | 'backend'>;
  readonly #counts = new Map<string, PendingCount>();
  readonly #durations = new Map<string, BackendDurations>();

  constructor(registry: Registry) {
    this.#counter = new Counter({
      name: 'pier_dataplane_requests_total',
      help: 'Requests answered, by Host (as routed), status and backend ("" when none)',
      labelNames: ['host', 'status', 'backend'],
      registers: [registry],
      collect: () => this.#flush(),
    });
    registry.registerMetric(this.#histogramMetric() as unknown as Metric);
  }

  /**
   * Counts one answered request. `host` is the matched virtual host's rule ('' for none),
   * `backend` '' when unrouted; `headersSeconds` is the time to the upstream's response headers,
   * when they arrived.
   */
  record(host: string, status: number, backend: string, headersSeconds: number | undefined): void {
    const key = `${backend}\n${host}\n${status}`;
    const entry = this.#counts.get(key);
    if (entry === undefined) {
      this.#counts.set(key, { labels: { host, status: String(status), backend }, pending: 1 });
    } else {
      entry.pending++;
    }
    if (headersSeconds === undefined || backend === '') return;
    let durations = this.#durations.get(backend);
    if (durations === undefined) {
      durations = {
        counts: new Array(REQUEST_DURATION_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#durations.set(backend, durations);
    }
    let bucket = 0;
    while (
      bucket < REQUEST_DURATION_BUCKETS.length &&
      headersSeconds > (REQUEST_DURATION_BUCKETS[bucket] as number)
    ) {
      bucket++;
    }
    durations.counts[bucket] = (durations.counts[bucket] as number) + 1;
    durations.sum += headersSeconds;
    durations.count++;
  }

  /** Hands the counts gathered since the last scrape to the prom-client counter. */
  #flush(): void {
    for (const entry of this.#counts.values()) {
      if (entry.pending === 0) continue;
      this.#counter.inc(entry.labels, entry.pending);
      entry.pending = 0;
    }
  }

  /** The duration histogram as a metric object prom-client's registries read. */
  #histogramMetric(): CollectableHistogram {
    const name = 'pier_dataplane_request_duration_seconds';
    const help = 'Time from request to response headers, by backend';
    const head = { name, help, type: 'histogram', aggregator: 'sum' } as const;
    return {
      ...head,
      get: async () => {
        const values: Sample[] = [];
        for (const [backend, d] of this.#durations) {
          let cumulative = 0;
          REQUEST_DURATION_BUCKETS.forEach((le, i) => {
            cumulative += d.counts[i] as number;
            values.push({
              metricName: `${name}_bucket`,
              labels: { le, backend },
              value: cumulative,
            });
          });
          values.push(
            { metricName: `${name}_bucket`, labels: { le: '+Inf', backend }, value: d.count },
            { metricName: `${name}_sum`, labels: { backend }, value: d.sum },
            { metricName: `${name}_count`, labels: { backend }, value: d.count },
          );
        }
        return { ...head, values };
      },
      reset: () => this.#durations.clear(),
    };
  }
}
