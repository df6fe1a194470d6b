/**
 * The dataplane's background thread: the work whose cost grows with the table or the number of
 * endpoints runs on a worker thread, so that neither its time nor its garbage holds up the
 * serving thread.
 *
 * - **Routes.** Reading and decoding a snapshot or a large patch, validating the table, and
 *   encoding its copy on local disk (`RouteSync` runs there). The worker sends only what each
 *   delta changed, entry by entry as JSON text in messages of bounded size; this side keeps each entry as that text until something reads it
 *   ({@link LazySection}) and hands over a table in which every unchanged entry is the same
 *   object as in the table before. `DataplaneApp` relies on that to find what changed by
 *   identity, without reading the entries again.
 * - **Health** (with `health`): the `HealthChecker` with its probes, timers, connections and
 *   shared state runs there too, on the worker's own copy of the table; this side is a
 *   {@link HealthMirror} of the endpoints that are not plainly usable.
 */
import { Worker } from 'node:worker_threads';
import {
  type Backend,
  type Certificate,
  type PierLogger,
  ROUTE_SECTIONS,
  type RouteSection,
  type RouteTable,
  SlicedQueue,
  type VirtualHost,
} from '@pier/shared';
import type { HealthEvents, RouteSource, RouteSourceHandlers } from '../dataplane-parts.ts';
import { HealthMirror } from '../health/health-mirror.ts';
import { LazyEntry, LazySection } from './lazy-section.ts';
import type { BackgroundWorkerData, MainMessage, WorkerMessage } from './messages.ts';

/** Changed entries put in the new table per step. */
const CHANGED_PER_STEP = 64;
/** At most this many changed entries are patched into the table served, in one step. */
const PATCH_MAX_ENTRIES = 256;
/** At most this many changed certificates (each may open a key and build a context) are patched. */
const PATCH_MAX_CERTIFICATES = 4;
/** Unchanged entries of the table before carried over per step. */
const KEPT_PER_STEP = 1_024;
/**
 * The worker's young generation, MiB (V8's default for a worker is 48). The worker's work is bulk
 * (decoding, validating, probing), so more frequent scavenges cost it little, while the default
 * kept the process's RSS about 90 MiB higher with a 10,000-host table (387 MiB against 287 MiB
 * after loading it; 12 and 6 MiB measured alike, 24 MiB 10 MiB more).
 */
const WORKER_YOUNG_GENERATION_MB = 12;
/** Delay before a worker that ended unasked is replaced, ms. */
const RESPAWN_MS = 1_000;
/** How long stop() waits for the worker to save the table and close its connections, ms. */
const STOP_WAIT_MS = 5_000;

/** Options of {@link BackgroundThread}. */
export interface BackgroundThreadOptions
  extends Omit<BackgroundWorkerData, 'health' | 'logBindings'> {
  logger: PierLogger;
  handlers: RouteSourceHandlers;
  /** The worker's connection to Redis for the routes came up or went down. */
  onRedis?: (connected: boolean) => void;
  /** A revision's entries were made into a table, holding this thread's loop `busyMs` in all. */
  onReceived?: (busyMs: number) => void;
  /** Keep the shared health state on the worker too; see {@link BackgroundThread.health}. */
  health?: NonNullable<BackgroundWorkerData['health']> & { events: HealthEvents };
}

type EntriesMessage = Extract<WorkerMessage, { type: 'entries' }>;

interface PendingTable {
  revision: number;
  /** The entries are the whole table: nothing of the table before is kept. */
  full: boolean;
  entries: EntriesMessage[];
  /** Keys gone, per section; filled as the messages come (each a few thousand keys at most). */
  removed: Map<RouteSection, Set<string>>;
}

/** A {@link RouteSource} following Redis on a worker thread; see the module comment. */
export class BackgroundThread implements RouteSource {
  readonly #o: BackgroundThreadOptions;
  readonly #building: SlicedQueue;
  /** Endpoint health kept by the worker, when asked for (`health`). */
  readonly health: HealthMirror | undefined;
  #worker: Worker | undefined;
  #pending: PendingTable | undefined;
  /** The entries of the table handed over last, and that table. */
  #sections: Record<RouteSection, Map<string, LazyEntry>> | undefined;
  #table: RouteTable | undefined;
  #started: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #stopped: (() => void) | undefined;

  constructor(options: BackgroundThreadOptions) {
    this.#o = options;
    this.health = options.health && new HealthMirror(options.health.events);
    this.#building = new SlicedQueue(
      (err) => this.#o.logger.error({ err }, 'route table from the worker could not be built'),
      options.onReceived,
    );
  }

  /** Starts the worker; resolves once the saved table, if any, has been handed over. */
  start(): Promise<void> {
    const started = new Promise<void>((resolve, reject) => {
      this.#started = { resolve, reject };
    });
    this.#spawn();
    return started;
  }

  /**
   * A worker that ends unasked (a bug, out of memory) is replaced after {@link RESPAWN_MS}; the
   * last table is served meanwhile, and the new worker sends its first table whole (`full`),
   * replacing the entries of the old one.
   */
  #spawn(): void {
    const {
      logger,
      handlers: _handlers,
      onRedis: _onRedis,
      onReceived: _onReceived,
      health,
      ...rest
    } = this.#o;
    const data: BackgroundWorkerData = {
      ...rest,
      logBindings: logger.bindings(),
      ...(health === undefined ? {} : { health: { node: health.node, probes: health.probes } }),
    };
    const worker = new Worker(workerUrl(), {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.#worker = worker;
    this.#pending = undefined;
    this.health?.connect((message: MainMessage) => worker.postMessage(message));
    worker.on('message', (message: WorkerMessage) => this.#receive(message));
    worker.on('error', (err) => {
      this.#o.logger.error({ err }, 'background thread failed; serving the last table');
      this.#started?.reject(err);
    });
    worker.on('exit', (code) => {
      this.#stopped?.();
      if (this.#worker !== worker) return; // stopped, or replaced
      this.#o.logger.error({ code }, 'background thread ended; starting another');
      this.#o.onRedis?.(false);
      this.health?.connect(undefined);
      setTimeout(() => {
        if (this.#worker === worker) this.#spawn();
      }, RESPAWN_MS).unref();
    });
  }

  /** Lets the worker save the table and disconnect, then ends it. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    const stopped = new Promise<void>((resolve) => {
      this.#stopped = resolve;
      setTimeout(resolve, STOP_WAIT_MS).unref();
    });
    worker.postMessage({ type: 'stop' } satisfies MainMessage);
    await stopped;
    await worker.terminate();
    this.health?.connect(undefined);
    await this.#building.idle();
  }

  #receive(message: WorkerMessage): void {
    switch (message.type) {
      case 'begin':
        this.#pending = {
          revision: message.revision,
          full: message.full,
          entries: [],
          removed: new Map(),
        };
        break;
      case 'entries':
        this.#pending?.entries.push(message);
        break;
      case 'removed': {
        const removed = this.#pending?.removed;
        const keys = removed?.get(message.section) ?? new Set<string>();
        removed?.set(message.section, keys);
        for (const key of message.keys) keys.add(key);
        break;
      }
      case 'end': {
        const pending = this.#pending;
        this.#pending = undefined;
        if (pending !== undefined && !this.#patch(pending)) {
          this.#building.run(() => this.#build(pending));
        }
        break;
      }
      case 'problems':
        this.#o.handlers.onProblems(message.problems);
        break;
      case 'redis':
        this.#o.onRedis?.(message.connected);
        break;
      case 'started': {
        const started = this.#started;
        this.#started = undefined;
        // The saved table is built before start() resolves: the dataplane serves it at once.
        void this.#building.idle().then(() => started?.resolve());
        break;
      }
      case 'stopped':
        this.#stopped?.();
        break;
      case 'failed':
        this.#o.logger.error({ reason: message.message }, 'route sync worker failed');
        this.#started?.reject(new Error(message.message));
        break;
      default:
        this.health?.receive(message);
        break;
    }
  }

  /**
   * A small change patched into the table served, in one step, when the serving side is ready
   * for it (see `RouteSourceHandlers.patch`): the entries change in place and the serving side
   * follows at once, so its cost is that of the entries changed, whatever the table's size.
   * False when it was not done (a whole table, a large change, something still being applied).
   */
  #patch(pending: PendingTable): boolean {
    const patch = this.#o.handlers.patch;
    const sections = this.#sections;
    const table = this.#table;
    if (pending.full || patch === undefined || sections === undefined || table === undefined) {
      return false;
    }
    let entries = 0;
    let certificates = 0;
    for (const { section, keys } of pending.entries) {
      entries += keys.length;
      if (section === 'certificates') certificates += keys.length;
    }
    for (const [section, keys] of pending.removed) {
      entries += keys.size;
      if (section === 'certificates') certificates += keys.size;
    }
    if (entries > PATCH_MAX_ENTRIES || certificates > PATCH_MAX_CERTIFICATES) return false;
    if (this.#building.busy || !patch.ready()) return false;
    const started = performance.now();
    const changed: Record<RouteSection, Set<string>> = {
      virtualHosts: new Set(),
      backends: new Set(),
      certificates: new Set(),
    };
    for (const [section, keys] of pending.removed) {
      for (const key of keys) {
        sections[section].get(key)?.left();
        sections[section].delete(key);
        changed[section].add(key);
      }
    }
    for (const { section, keys, text, ends } of pending.entries) {
      const made = LazyEntry.fromMessage(text, ends);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        sections[section].get(key)?.left();
        sections[section].set(key, made[i] as LazyEntry);
        changed[section].add(key);
      }
    }
    const next: RouteTable = { ...table, revision: pending.revision };
    this.#table = next;
    this.#o.onReceived?.(performance.now() - started);
    patch.apply(next, changed);
    return true;
  }

  /**
   * The table before with the changes applied, in steps; then hands it over. Changed entries
   * stay text until read ({@link LazySection}); the entries kept are carried over in steps too: a
   * 10,000-entry section copied at once held the loop for 38 ms (CPU profile of the update-stall
   * bench, reverting to one route).
   */
  *#build(pending: PendingTable): Generator<void> {
    const sections = {} as Record<RouteSection, Map<string, LazyEntry>>;
    let step = 0;
    for (const section of ROUTE_SECTIONS) {
      const removed = pending.removed.get(section);
      const kept = new Map<string, LazyEntry>();
      for (const [key, entry] of this.#sections?.[section] ?? []) {
        if (pending.full || removed?.has(key) === true) entry.left();
        else kept.set(key, entry);
        if (++step % KEPT_PER_STEP === 0) yield;
      }
      sections[section] = kept;
    }
    for (const { section, keys, text, ends } of pending.entries) {
      const entries = LazyEntry.fromMessage(text, ends);
      yield;
      const into = sections[section];
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        into.get(key)?.left();
        into.set(key, entries[i] as LazyEntry);
        if (++step % CHANGED_PER_STEP === 0) yield;
      }
    }
    this.#sections = sections;
    const read = <T>(section: RouteSection) => new LazySection<T>(sections[section]).record;
    const table: RouteTable = {
      revision: pending.revision,
      certificates: read<Certificate>('certificates'),
      backends: read<Backend>('backends'),
      virtualHosts: read<VirtualHost>('virtualHosts'),
    };
    this.#table = table;
    this.#o.handlers.onTable(table);
  }
}

/** The worker's module: beside this one, `.ts` when running from source, `.js` when built. */
function workerUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./background-worker${extension}`, import.meta.url);
}
