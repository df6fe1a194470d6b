/**
 * A worker thread that keeps requests going to a dataplane and scrapes its /metrics, timing
 * both: closed request loops (request, pause, request...), each on a kept-alive connection of
 * its own, and a scrape every `scrapeMs`. Its own event loop keeps the clocks honest while the
 * benchmark's main thread is busy (building or publishing a large table).
 *
 * Times are epoch milliseconds with sub-millisecond precision ({@link nowMs}), comparable between
 * threads.
 */
import { Agent, request } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface SamplerOptions {
  /** `http://127.0.0.1:<port>/`, asked with `host`. */
  url: string;
  host: string;
  /** What a good answer's body is. */
  body: string;
  loops: number;
  /** Pause after each answer, ms. */
  pauseMs: number;
  /** A request or scrape unanswered after this fails, ms. */
  timeoutMs: number;
  /** The /metrics URL. */
  metricsUrl: string;
  /**
   * A scrape starts this long after the previous one started (or when it ends, if later), ms;
   * until {@link RequestSampler.scrapeEvery} says otherwise.
   */
  scrapeMs: number;
  /** Metrics whose sums each scrape reports. */
  metrics: readonly string[];
}

/** One request of a loop. */
export interface SampledRequest {
  /** When it was sent. */
  at: number;
  /** Until the whole answer was in, or until it failed, ms. */
  ms: number;
  ok: boolean;
  /**
   * Why it failed: `HTTP <status>` with the dataplane's `x-pier-error` cause if any,
   * `unexpected body`, or the error's code or message.
   */
  failure?: string;
}

/** One scrape of /metrics. */
export interface SampledScrape {
  /** When it was sent and when the whole page was in. */
  at: number;
  doneAt: number;
  bytes: number;
  /** The sum of each asked-for metric's samples; absent metrics are absent. */
  values: Record<string, number>;
}

type FromWorker =
  | { kind: 'scrape'; scrape: SampledScrape }
  | {
      kind: 'done';
      requests: SampledRequest[];
      scrapes: SampledScrape[];
      scrapeFailures: string[];
    };

export const nowMs = (): number => performance.timeOrigin + performance.now();

/** A running sampler. */
export interface RequestSampler {
  /** Resolves with the first scrape that satisfies `test` (scrapes as they come). */
  scrapeWhere(test: (s: SampledScrape) => boolean, timeoutMs: number): Promise<SampledScrape>;
  /** From now on, a scrape every `ms`. */
  scrapeEvery(ms: number): void;
  /** Lets every loop finish its request in flight; resolves with everything sampled. */
  stop(): Promise<{
    requests: SampledRequest[];
    scrapes: SampledScrape[];
    /** Why scrapes failed: each may have reset the event-loop histogram unseen. */
    scrapeFailures: string[];
  }>;
}

/** Starts the worker; resolves once its first scrape is in (requests have started by then). */
export async function startRequestSampler(options: SamplerOptions): Promise<RequestSampler> {
  const worker = new Worker(new URL(import.meta.url), { workerData: options });
  const waiting = new Set<(s: SampledScrape) => void>();
  let finish: ((d: Extract<FromWorker, { kind: 'done' }>) => void) | undefined;
  let failed: Error | undefined;
  const done = new Promise<Extract<FromWorker, { kind: 'done' }>>((resolve, reject) => {
    finish = resolve;
    worker.once('error', (err) => {
      failed = err;
      reject(err);
    });
  });
  done.catch(() => undefined);
  worker.on('message', (m: FromWorker) => {
    if (m.kind === 'scrape') for (const w of [...waiting]) w(m.scrape);
    else finish?.(m);
  });
  const scrapeWhere = (test: (s: SampledScrape) => boolean, timeoutMs: number) =>
    new Promise<SampledScrape>((resolve, reject) => {
      if (failed) return reject(failed);
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(new Error(`no such scrape within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (s: SampledScrape): void => {
        if (!test(s)) return;
        clearTimeout(timer);
        waiting.delete(check);
        resolve(s);
      };
      waiting.add(check);
      done.catch(reject);
    });
  await scrapeWhere(() => true, options.timeoutMs);
  return {
    scrapeWhere,
    scrapeEvery: (ms) => worker.postMessage({ scrapeEvery: ms }),
    stop: async () => {
      worker.postMessage('stop');
      const { requests, scrapes, scrapeFailures } = await done;
      await worker.terminate();
      return { requests, scrapes, scrapeFailures };
    },
  };
}

// ---- In the worker ------------------------------------------------------------------------------

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

function timedRequest(o: SamplerOptions, agent: Agent): Promise<SampledRequest> {
  const at = nowMs();
  return new Promise((resolve) => {
    const end = (failure?: string): void =>
      resolve({ at, ms: nowMs() - at, ok: failure === undefined, ...(failure ? { failure } : {}) });
    const failed = (err: NodeJS.ErrnoException): void => end(err.code ?? err.message);
    const req = request(
      o.url,
      { headers: { host: o.host }, agent, timeout: o.timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => {
          const cause = res.headers['x-pier-error'];
          if (res.statusCode !== 200) end(`HTTP ${res.statusCode}${cause ? ` ${cause}` : ''}`);
          else end(body === o.body ? undefined : 'unexpected body');
        });
        res.on('error', failed);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', failed);
    req.end();
  });
}

async function scrape(o: SamplerOptions): Promise<SampledScrape> {
  const at = nowMs();
  const res = await fetch(o.metricsUrl, { signal: AbortSignal.timeout(o.timeoutMs) });
  const text = await res.text();
  const values: Record<string, number> = {};
  const wanted = new Set(o.metrics);
  for (const line of text.split('\n')) {
    const end = line.search(/[{ ]/);
    const name = end > 0 ? line.slice(0, end) : '';
    if (!wanted.has(name)) continue;
    values[name] = (values[name] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return { at, doneAt: nowMs(), bytes: text.length, values };
}

async function runWorker(o: SamplerOptions): Promise<void> {
  let stopping = false;
  let every = o.scrapeMs;
  parentPort?.on('message', (m: 'stop' | { scrapeEvery: number }) => {
    if (m === 'stop') stopping = true;
    else every = m.scrapeEvery;
  });
  const requests: SampledRequest[] = [];
  const scrapes: SampledScrape[] = [];
  const scrapeFailures: string[] = [];
  const loops = Array.from({ length: o.loops }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    while (!stopping) {
      requests.push(await timedRequest(o, agent));
      await sleep(o.pauseMs);
    }
    agent.destroy();
  });
  const scraper = (async () => {
    while (!stopping) {
      const s = await scrape(o).catch((err: Error) => {
        scrapeFailures.push(err.message);
        return undefined;
      });
      if (s) {
        scrapes.push(s);
        parentPort?.postMessage({ kind: 'scrape', scrape: s } satisfies FromWorker);
      }
      await sleep(Math.max(0, (s?.at ?? nowMs()) + every - nowMs()));
    }
  })();
  await Promise.all([...loops, scraper]);
  parentPort?.postMessage({ kind: 'done', requests, scrapes, scrapeFailures } satisfies FromWorker);
}

if (!isMainThread && parentPort) await runWorker(workerData as SamplerOptions);
